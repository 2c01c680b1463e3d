//! `posts` and `media-vault`: the creator's posts and vault media.

use serde_json::{Value, json};

use super::Call;
use super::common::{account, account_index, body_str, date_arg, iso, page, parse_date, query};
use crate::sandbox::data::{Account, Post};
use crate::sandbox::{Failure, Outcome, State};

fn post_json(post: &Post, account: &Account) -> Value {
    let tips: f64 = 0.0;
    json!({
        "id": post.id,
        "text": post.text,
        "rawText": post.text,
        "postedAt": iso(post.created_at),
        "postedAtPrecise": post.created_at.timestamp().to_string(),
        "price": post.price,
        "favoritesCount": post.likes,
        "commentsCount": post.comments,
        "tipsAmount": format!("{tips:.2}"),
        "mediaCount": post.media_ids.len(),
        "responseType": "post",
        "canComment": true,
        "canDelete": true,
        "canEdit": true,
        "canToggleFavorite": false,
        "canViewMedia": true,
        "isOpened": true,
        "isMediaReady": true,
        "isMarkdownDisabled": false,
        "author": {"id": account.user_id, "_view": "m", "name": account.name, "username": account.username},
    })
}

pub(super) fn list_posts(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let account = account(state, call)?;
    let search = query(call, "query").map(str::to_lowercase);
    let since = date_arg(call, &["minimumPublishDate"])?;
    let mut posts: Vec<&Post> = account
        .posts
        .iter()
        .filter(|p| {
            search
                .as_ref()
                .is_none_or(|q| p.text.to_lowercase().contains(q.as_str()))
        })
        .filter(|p| since.is_none_or(|s| p.created_at >= s))
        .collect();
    match query(call, "order") {
        Some("favorites_count") => posts.sort_by_key(|item| std::cmp::Reverse(item.likes)),
        _ => posts.sort_by_key(|item| std::cmp::Reverse(item.created_at)),
    }
    if query(call, "sort") == Some("asc") {
        posts.reverse();
    }
    let items: Vec<Value> = posts.iter().map(|p| post_json(p, account)).collect();
    let page = page(state, call, items, 10, 100)?;
    let photos = account
        .vault_media
        .iter()
        .filter(|m| m.kind == "photo")
        .count();
    Ok(Outcome::ok(json!({
        "list": page.items,
        "hasMore": page.has_more,
        "headMarker": posts.first().map(|p| p.created_at.timestamp().to_string()),
        "tailMarker": posts.last().map(|p| p.created_at.timestamp().to_string()),
        "counters": {
            "postsCount": account.posts.len(),
            "mediasCount": account.vault_media.len(),
            "photosCount": photos,
            "videosCount": account.vault_media.len() - photos,
            "audiosCount": 0,
            "streamsCount": 0,
            "archivedPostsCount": 0,
            "privateArchivedPostsCount": 0,
        },
    })))
}

pub(super) fn send_post(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let text = body_str(call, "text").unwrap_or("").trim().to_owned();
    if text.is_empty() {
        return Err(Failure::invalid("text", "The text field is required."));
    }
    let index = account_index(state, call)?;
    let now = state.data.now;
    let id = 2_000_000_000 + state.data.next_id();
    let created_at = match body_str(call, "scheduledDate") {
        Some(text) => parse_date(text).ok_or_else(|| {
            Failure::invalid("scheduledDate", "The scheduled date is not a date.")
        })?,
        None => now,
    };
    let post = Post {
        id,
        text,
        created_at,
        price: 0.0,
        likes: 0,
        comments: 0,
        media_ids: Vec::new(),
    };
    let account = &mut state.data.accounts[index];
    let answer = post_json(&post, account);
    account.posts.push(post);
    Ok(Outcome::ok(answer))
}

pub(super) fn list_vault_media(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let kind = query(call, "type");
    let account = account(state, call)?;
    let mut media: Vec<_> = account
        .vault_media
        .iter()
        .filter(|m| kind.is_none_or(|k| m.kind == k))
        .collect();
    media.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    if query(call, "sort") == Some("asc") {
        media.reverse();
    }
    let items = media
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id,
                "type": m.kind,
                "createdAt": iso(m.created_at),
                "duration": m.duration,
                "canView": true,
                "isReady": true,
                "hasError": false,
                "hasPosts": account.posts.iter().any(|p| p.media_ids.contains(&m.id)),
                "convertedToVideo": false,
                "hasCustomPreview": false,
                "counters": {"likesCount": 0, "tipsSumm": 0},
            })
        })
        .collect();
    let page = page(state, call, items, 10, 100)?;
    Ok(Outcome::ok(
        json!({"list": page.items, "hasMore": page.has_more}),
    ))
}
