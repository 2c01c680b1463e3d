//! How a responder puts a turn's text into a chat, the same on every
//! platform: the progress message ("On it…") gives way to the answer, a
//! long answer goes in several messages, and the buttons of a confirmation
//! ride on its last message, so they sit under the whole question.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// The calls a chat platform offers a responder, for one conversation.
pub trait Surface: Send + Sync {
    /// A message's id on the platform.
    type Id: Clone + Send + Sync;
    /// One message's content, rendered for the platform.
    type Piece: Send + Sync;

    /// Posts `piece` (with the buttons, if `buttons`); its id, or `None`
    /// if the platform refused it.
    fn post(
        &self,
        piece: &Self::Piece,
        buttons: bool,
    ) -> impl Future<Output = Option<Self::Id>> + Send;

    /// Replaces message `id` with `piece`; false if the platform would not.
    fn edit(
        &self,
        id: &Self::Id,
        piece: &Self::Piece,
        buttons: bool,
    ) -> impl Future<Output = bool> + Send;

    /// Deletes message `id`; false if the platform would not.
    fn remove(&self, id: &Self::Id) -> impl Future<Output = bool> + Send;
}

/// What becomes of the progress message when the answer arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveWay {
    /// The first piece is edited into it (no extra message in the chat).
    Edit,
    /// The answer is posted, so the platform notifies (an edit does not),
    /// and the progress message is then deleted.
    Repost,
}

/// The progress message a responder showed, until the answer takes its place.
#[derive(Debug)]
pub struct ProgressMessage<Id>(Mutex<Option<Id>>);

impl<Id: Clone> Default for ProgressMessage<Id> {
    fn default() -> Self {
        ProgressMessage(Mutex::new(None))
    }
}

impl<Id: Clone> ProgressMessage<Id> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Id>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The message shown, if any.
    pub fn shown(&self) -> Option<Id> {
        self.lock().clone()
    }

    /// Remembers the message shown.
    pub fn set(&self, id: Id) {
        *self.lock() = Some(id);
    }

    /// Takes the message, which is the answer's to replace or remove.
    pub fn take(&self) -> Option<Id> {
        self.lock().take()
    }
}

/// Shows `pieces` in order in place of the progress message (edited into
/// or removed after them, by `give_way`); the buttons, if `buttons`, go on
/// the last piece. Returns the last piece's message.
pub async fn show<S: Surface>(
    surface: &S,
    progress: &ProgressMessage<S::Id>,
    pieces: &[S::Piece],
    buttons: bool,
    give_way: GiveWay,
) -> Option<S::Id> {
    let shown = progress.take();
    let last = pieces.len().saturating_sub(1);
    let mut sent = None;
    let mut posted_any = false;
    for (index, piece) in pieces.iter().enumerate() {
        let with_buttons = buttons && index == last;
        if index == 0
            && give_way == GiveWay::Edit
            && let Some(id) = &shown
            && surface.edit(id, piece, with_buttons).await
        {
            sent = Some(id.clone());
            continue;
        }
        sent = surface.post(piece, with_buttons).await;
        posted_any |= sent.is_some();
    }
    if give_way == GiveWay::Repost
        && posted_any
        && let Some(id) = &shown
        && !surface.remove(id).await
    {
        tracing::debug!("cannot remove a progress message");
    }
    sent
}

/// Repeats an action (a typing indicator) every `period` until stopped or
/// dropped.
#[derive(Debug, Default)]
pub struct Repeating(Mutex<Option<tokio::task::JoinHandle<()>>>);

impl Repeating {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<tokio::task::JoinHandle<()>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `action` every `period` from now on (the first run is the
    /// caller's), replacing what repeated before.
    pub fn start<F, Fut>(&self, period: Duration, action: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let repeating = tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                action().await;
            }
        });
        if let Some(earlier) = self.lock().replace(repeating) {
            earlier.abort();
        }
    }

    pub fn stop(&self) {
        if let Some(repeating) = self.lock().take() {
            repeating.abort();
        }
    }
}

impl Drop for Repeating {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it was asked to do; refuses edits if told to.
    #[derive(Default)]
    struct Chat {
        calls: Mutex<Vec<String>>,
        refuse_edits: bool,
    }

    impl Surface for Chat {
        type Id = String;
        type Piece = String;

        async fn post(&self, piece: &String, buttons: bool) -> Option<String> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("post {piece} {buttons}"));
            Some(piece.clone())
        }

        async fn edit(&self, id: &String, piece: &String, buttons: bool) -> bool {
            self.calls
                .lock()
                .unwrap()
                .push(format!("edit {id} {piece} {buttons}"));
            !self.refuse_edits
        }

        async fn remove(&self, id: &String) -> bool {
            self.calls.lock().unwrap().push(format!("remove {id}"));
            true
        }
    }

    fn pieces() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[tokio::test]
    async fn edited_progress_takes_the_first_piece_and_buttons_go_last() {
        let chat = Chat::default();
        let progress = ProgressMessage::default();
        progress.set("p".to_owned());
        let last = show(&chat, &progress, &pieces(), true, GiveWay::Edit).await;
        assert_eq!(last.as_deref(), Some("c"));
        assert_eq!(
            *chat.calls.lock().unwrap(),
            ["edit p a false", "post b false", "post c true"]
        );
        assert_eq!(progress.shown(), None);
    }

    #[tokio::test]
    async fn a_refused_edit_posts_instead() {
        let chat = Chat {
            refuse_edits: true,
            ..Chat::default()
        };
        let progress = ProgressMessage::default();
        progress.set("p".to_owned());
        show(&chat, &progress, &pieces()[..1], true, GiveWay::Edit).await;
        assert_eq!(
            *chat.calls.lock().unwrap(),
            ["edit p a true", "post a true"]
        );
    }

    #[tokio::test]
    async fn reposting_notifies_then_removes_the_progress_message() {
        let chat = Chat::default();
        let progress = ProgressMessage::default();
        progress.set("p".to_owned());
        show(&chat, &progress, &pieces(), false, GiveWay::Repost).await;
        assert_eq!(
            *chat.calls.lock().unwrap(),
            ["post a false", "post b false", "post c false", "remove p"]
        );
    }
}
