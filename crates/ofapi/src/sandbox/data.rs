//! The synthetic agency the sandbox serves: three creator accounts with 90
//! days of fans, transactions, chats, links, lists, posts and media.
//!
//! Generated from a seed, so the same seed and "now" give the same data,
//! which is what lets tests assert exact figures.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone)]
pub struct SandboxData {
    pub now: DateTime<Utc>,
    pub accounts: Vec<Account>,
    /// The team's webhooks (team-level, like `/api/webhooks`).
    pub webhooks: Vec<Webhook>,
    next_id: i64,
}

#[derive(Debug, Clone)]
pub struct Account {
    /// `acct_…`, what every account path takes.
    pub id: String,
    /// The OnlyFans user ID of the creator.
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub subscribe_price: f64,
    pub joined_at: DateTime<Utc>,
    pub fans: Vec<Fan>,
    pub transactions: Vec<Transaction>,
    pub chats: Vec<Chat>,
    pub mass_messages: Vec<MassMessage>,
    pub tracking_links: Vec<TrackingLink>,
    pub trial_links: Vec<TrialLink>,
    pub user_lists: Vec<UserList>,
    pub posts: Vec<Post>,
    pub vault_media: Vec<Media>,
}

#[derive(Debug, Clone)]
pub struct Fan {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub subscribed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub auto_renew: bool,
    pub last_seen: DateTime<Utc>,
    /// Tracking link the fan subscribed through, if any.
    pub tracking_link: Option<i64>,
    /// Trial link the fan claimed, if any.
    pub trial_link: Option<i64>,
}

impl Fan {
    #[must_use]
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    Subscription,
    Tip,
    /// A paid (PPV) message.
    Message,
    /// A paid post.
    Post,
    /// Money taken back by the fan's bank; negative amounts.
    Chargeback,
}

impl TransactionKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionKind::Subscription => "subscription",
            TransactionKind::Tip => "tip",
            TransactionKind::Message => "message",
            TransactionKind::Post => "post",
            TransactionKind::Chargeback => "chargeback",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Transaction {
    pub id: String,
    pub fan_id: i64,
    pub kind: TransactionKind,
    pub created_at: DateTime<Utc>,
    /// What the fan paid, USD.
    pub gross: f64,
    /// After OnlyFans' 20% fee.
    pub net: f64,
}

#[derive(Debug, Clone)]
pub struct Chat {
    pub fan_id: i64,
    pub messages: Vec<ChatMessage>,
    pub unread: i64,
}

#[derive(Debug, Clone)]
pub struct ChatMessage {
    pub id: i64,
    /// The mass message it was delivered as, if any (unsending removes it).
    pub queue_id: Option<i64>,
    pub from_fan: bool,
    pub text: String,
    pub price: f64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct MassMessage {
    pub id: i64,
    pub text: String,
    pub price: f64,
    pub created_at: DateTime<Utc>,
    pub user_list_ids: Vec<String>,
    pub user_ids: Vec<i64>,
    pub sent_count: i64,
    pub viewed_count: i64,
    pub purchased_count: i64,
    pub scheduled_for: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct TrackingLink {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub clicks: i64,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TrialLink {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub subscribe_days: i64,
    pub claims_limit: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub clicks: i64,
}

#[derive(Debug, Clone)]
pub struct UserList {
    pub id: String,
    pub name: String,
    /// `custom`, or OnlyFans' own kinds (`fans`, `following`…).
    pub kind: String,
    pub user_ids: Vec<i64>,
}

/// A webhook registered with `POST /api/webhooks`.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// `wh_<n>`.
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    /// `global`, `inclusive` (only `account_ids`) or `exclusive` (all but them).
    pub account_scope: String,
    pub account_ids: Vec<String>,
    /// Signs each delivery; never shown by the API (`has_signing_secret`).
    pub signing_secret: Option<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether an event about `accounts` (its `account_id`, or a team-level
    /// event's `payload.account_ids`) is in this webhook's scope.
    #[must_use]
    pub fn covers(&self, accounts: &[String]) -> bool {
        match self.account_scope.as_str() {
            "global" => true,
            "inclusive" => accounts.iter().any(|a| self.account_ids.contains(a)),
            "exclusive" => accounts.iter().any(|a| !self.account_ids.contains(a)),
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Post {
    pub id: i64,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub price: f64,
    pub likes: i64,
    pub comments: i64,
    pub media_ids: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Media {
    pub id: i64,
    /// `photo` or `video`.
    pub kind: &'static str,
    pub created_at: DateTime<Utc>,
    /// Seconds, videos only.
    pub duration: i64,
}

const CREATORS: [(&str, &str, f64); 3] = [
    ("Mia Rose", "miarose", 9.99),
    ("Luna Vale", "lunavale", 14.99),
    ("Aria Night", "arianight", 4.99),
];

const FIRST_NAMES: [&str; 24] = [
    "Alex", "Jordan", "Chris", "Sam", "Taylor", "Morgan", "Jamie", "Casey", "Riley", "Drew",
    "Blake", "Cameron", "Devin", "Ellis", "Frankie", "Harper", "Jesse", "Kai", "Logan", "Max",
    "Noah", "Parker", "Quinn", "Reese",
];

const CHAT_LINES: [&str; 10] = [
    "Hey gorgeous, how was your day?",
    "Loved your last post 😍",
    "Do you do custom videos?",
    "Any new sets coming this week?",
    "Just renewed, can't wait for more",
    "What's your favourite colour?",
    "Sent you a little tip 💸",
    "When are you going live next?",
    "You always make my day better",
    "Is the bundle still on sale?",
];

const CREATOR_LINES: [&str; 6] = [
    "Thank you babe! 💕",
    "New set drops tonight, stay tuned 😘",
    "Customs are open, tell me what you'd like!",
    "I'm live Friday at 9pm ✨",
    "You're the sweetest, thank you for the support",
    "Check your DMs for something special 🔥",
];

/// 80% of what fans pay reaches the creator.
pub fn net_of(gross: f64) -> f64 {
    (gross * 0.8 * 100.0).round() / 100.0
}

impl SandboxData {
    pub fn generate(seed: u64, now: DateTime<Utc>) -> SandboxData {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut data = SandboxData {
            now,
            accounts: Vec::new(),
            webhooks: Vec::new(),
            next_id: 900_000,
        };
        for (index, (name, username, price)) in CREATORS.iter().enumerate() {
            let account = data.generate_account(&mut rng, index, name, username, *price);
            data.accounts.push(account);
        }
        data
    }

    /// A fresh ID for something a write creates.
    pub fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    #[must_use]
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    pub fn account_mut(&mut self, id: &str) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| a.id == id)
    }

    fn generate_account(
        &mut self,
        rng: &mut StdRng,
        index: usize,
        name: &str,
        username: &str,
        subscribe_price: f64,
    ) -> Account {
        let now = self.now;
        let id = format!(
            "acct_{}{:0>10}",
            &username[..4],
            rng.random_range(0..10_000_000_000_u64)
        );
        let mut account = Account {
            id,
            user_id: 310_000_000 + index as i64 * 1_117 + rng.random_range(0..1000),
            username: username.to_owned(),
            name: name.to_owned(),
            subscribe_price,
            joined_at: now - Duration::days(400 + rng.random_range(0..300)),
            fans: Vec::new(),
            transactions: Vec::new(),
            chats: Vec::new(),
            mass_messages: Vec::new(),
            tracking_links: Vec::new(),
            trial_links: Vec::new(),
            user_lists: Vec::new(),
            posts: Vec::new(),
            vault_media: Vec::new(),
        };
        for (offset, link_name) in [
            "Instagram bio",
            "TikTok",
            "Reddit",
            "Twitter promo",
            "Collab shoutout",
        ]
        .iter()
        .enumerate()
        {
            account.tracking_links.push(TrackingLink {
                id: 5_000_000 + index as i64 * 100 + offset as i64,
                name: (*link_name).to_owned(),
                created_at: now - Duration::days(120 - offset as i64 * 7),
                deleted_at: None,
                clicks: 0,
                tags: vec![link_name.split(' ').next().unwrap_or("").to_lowercase()],
            });
        }
        for (offset, (link_name, days)) in [("Welcome 7 days free", 7), ("Black Friday trial", 3)]
            .iter()
            .enumerate()
        {
            account.trial_links.push(TrialLink {
                id: 7_000_000 + index as i64 * 100 + offset as i64,
                name: (*link_name).to_owned(),
                created_at: now - Duration::days(100 - offset as i64 * 30),
                subscribe_days: *days,
                claims_limit: Some(500),
                expires_at: None,
                clicks: 0,
            });
        }
        let fan_count = 45 + rng.random_range(0..40);
        for fan_index in 0..fan_count {
            self.generate_fan(rng, &mut account, index, fan_index);
        }
        for link in &mut account.tracking_links {
            let subscribers = account
                .fans
                .iter()
                .filter(|f| f.tracking_link == Some(link.id))
                .count() as i64;
            link.clicks = subscribers * rng.random_range(6..20) + rng.random_range(5..60);
        }
        for link in &mut account.trial_links {
            let claims = account
                .fans
                .iter()
                .filter(|f| f.trial_link == Some(link.id))
                .count() as i64;
            link.clicks = claims * rng.random_range(3..9) + rng.random_range(2..30);
        }
        account
            .transactions
            .sort_by_key(|item| std::cmp::Reverse(item.created_at));
        self.generate_content(rng, &mut account);
        account
    }

    fn generate_fan(
        &mut self,
        rng: &mut StdRng,
        account: &mut Account,
        account_index: usize,
        fan_index: usize,
    ) {
        let now = self.now;
        let id = 100_000_000
            + account_index as i64 * 10_000_000
            + fan_index as i64 * 7_919
            + rng.random_range(0..7_000);
        let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
        let subscribed_at = now - Duration::minutes(rng.random_range(60..(120 * 24 * 60)));
        let auto_renew = rng.random_bool(0.6);
        let trial = rng.random_bool(0.15);
        let first_period = if trial { 7 } else { 30 };
        // Renewing fans stay subscribed; others lapse after one to three periods.
        let periods = if auto_renew {
            1 + (now - subscribed_at).num_days() / 30
        } else {
            rng.random_range(1..4)
        };
        let expires_at = subscribed_at + Duration::days(first_period + (periods - 1) * 30);
        let tracking_link = rng
            .random_bool(0.55)
            .then(|| account.tracking_links[rng.random_range(0..account.tracking_links.len())].id);
        let trial_link =
            trial.then(|| account.trial_links[rng.random_range(0..account.trial_links.len())].id);
        let fan = Fan {
            id,
            username: format!("{}{}", first.to_lowercase(), rng.random_range(10..9999)),
            name: first.to_owned(),
            subscribed_at,
            expires_at,
            auto_renew,
            last_seen: (now - Duration::minutes(rng.random_range(1..(20 * 24 * 60))))
                .max(subscribed_at),
            tracking_link,
            trial_link,
        };
        // Subscription payments: one per paid period that has started.
        for period in 0..periods {
            let paid_trial_period = trial && period == 0;
            let at = subscribed_at
                + Duration::days(if period == 0 {
                    0
                } else {
                    first_period + (period - 1) * 30
                });
            if at <= now && !paid_trial_period {
                self.push_transaction(
                    account,
                    fan.id,
                    TransactionKind::Subscription,
                    at,
                    account.subscribe_price,
                );
            }
        }
        // Spending: most fans a little, a few whales a lot.
        let whale = rng.random_bool(0.08);
        let purchases = if whale {
            rng.random_range(8..20)
        } else {
            rng.random_range(0..5)
        };
        for _ in 0..purchases {
            let span = (now.min(expires_at) - subscribed_at).num_minutes().max(1);
            let at = subscribed_at + Duration::minutes(rng.random_range(0..span));
            let (kind, amount) = match rng.random_range(0..10) {
                0..=3 => (
                    TransactionKind::Tip,
                    [5.0, 10.0, 20.0, 50.0, 100.0][rng.random_range(0..5)],
                ),
                4..=7 => (
                    TransactionKind::Message,
                    [7.99, 12.99, 19.99, 29.99][rng.random_range(0..4)],
                ),
                _ => (
                    TransactionKind::Post,
                    [4.99, 9.99, 14.99][rng.random_range(0..3)],
                ),
            };
            let amount = if whale { amount * 2.0 } else { amount };
            self.push_transaction(account, fan.id, kind, at, amount);
        }
        if purchases > 2 && rng.random_bool(0.05) {
            let at = now - Duration::days(rng.random_range(1..60));
            self.push_transaction(account, fan.id, TransactionKind::Chargeback, at, -19.99);
        }
        if rng.random_bool(0.6) {
            let mut messages = Vec::new();
            let count = rng.random_range(2..9);
            let mut at = subscribed_at + Duration::minutes(rng.random_range(5..600));
            for turn in 0..count {
                let from_fan = turn % 2 == 0;
                let text = if from_fan {
                    CHAT_LINES[rng.random_range(0..CHAT_LINES.len())]
                } else {
                    CREATOR_LINES[rng.random_range(0..CREATOR_LINES.len())]
                };
                at = (at + Duration::minutes(rng.random_range(3..2_000))).min(now);
                messages.push(ChatMessage {
                    id: self.next_id(),
                    queue_id: None,
                    from_fan,
                    text: text.to_owned(),
                    price: 0.0,
                    created_at: at,
                });
            }
            let unread = i64::from(messages.last().is_some_and(|m| m.from_fan));
            account.chats.push(Chat {
                fan_id: fan.id,
                messages,
                unread,
            });
        }
        account.fans.push(fan);
    }

    fn push_transaction(
        &mut self,
        account: &mut Account,
        fan_id: i64,
        kind: TransactionKind,
        created_at: DateTime<Utc>,
        gross: f64,
    ) {
        let id = self.next_id();
        account.transactions.push(Transaction {
            id: format!("txn_{id}"),
            fan_id,
            kind,
            created_at,
            gross,
            net: net_of(gross),
        });
    }

    fn generate_content(&mut self, rng: &mut StdRng, account: &mut Account) {
        let now = self.now;
        for index in 0..30 {
            let video = rng.random_bool(0.35);
            account.vault_media.push(Media {
                id: 4_000_000_000 + self.next_id(),
                kind: if video { "video" } else { "photo" },
                created_at: now - Duration::days(90 - index * 3),
                duration: if video { rng.random_range(15..600) } else { 0 },
            });
        }
        for index in 0..15 {
            let media_ids = vec![account.vault_media[(index * 2) as usize].id];
            account.posts.push(Post {
                id: 2_000_000_000 + self.next_id(),
                text: format!(
                    "{} ✨",
                    CREATOR_LINES[rng.random_range(0..CREATOR_LINES.len())]
                ),
                created_at: now
                    - Duration::days(85 - index * 6)
                    - Duration::hours(rng.random_range(0..12)),
                price: if index % 5 == 0 { 9.99 } else { 0.0 },
                likes: rng.random_range(5..400),
                comments: rng.random_range(0..40),
                media_ids,
            });
        }
        let active: Vec<i64> = account
            .fans
            .iter()
            .filter(|f| f.is_active(now))
            .map(|f| f.id)
            .collect();
        let expired: Vec<i64> = account
            .fans
            .iter()
            .filter(|f| !f.is_active(now))
            .map(|f| f.id)
            .collect();
        let whales: Vec<i64> = {
            let mut spend: Vec<(i64, f64)> = account
                .fans
                .iter()
                .map(|f| {
                    (
                        f.id,
                        account
                            .transactions
                            .iter()
                            .filter(|t| t.fan_id == f.id)
                            .map(|t| t.net)
                            .sum(),
                    )
                })
                .collect();
            spend.sort_by(|a, b| b.1.total_cmp(&a.1));
            spend.into_iter().take(5).map(|(id, _)| id).collect()
        };
        for (offset, (name, kind, users)) in [
            ("Fans", "fans", active.clone()),
            ("Expired", "expired", expired),
            ("Whales", "custom", whales),
        ]
        .into_iter()
        .enumerate()
        {
            account.user_lists.push(UserList {
                id: (1_100_000 + offset as i64 + account.user_id % 1000 * 10).to_string(),
                name: name.to_owned(),
                kind: kind.to_owned(),
                user_ids: users,
            });
        }
        for (index, text) in [
            "New set tonight 🔥 unlock it in my DMs",
            "Happy weekend! Renew and get a free pic 💕",
            "Exclusive video for my top fans",
        ]
        .iter()
        .enumerate()
        {
            let sent = active.len() as i64;
            account.mass_messages.push(MassMessage {
                id: 3_000_000_000 + self.next_id(),
                text: (*text).to_owned(),
                price: if index == 2 { 14.99 } else { 0.0 },
                created_at: now - Duration::days(40 - index as i64 * 15),
                user_list_ids: vec![account.user_lists[0].id.clone()],
                user_ids: Vec::new(),
                sent_count: sent,
                viewed_count: sent * 6 / 10,
                purchased_count: if index == 2 { sent / 8 } else { 0 },
                scheduled_for: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_same_seed_gives_the_same_agency() {
        let a = SandboxData::generate(7, now());
        let b = SandboxData::generate(7, now());
        assert_eq!(a.accounts.len(), 3);
        for (x, y) in a.accounts.iter().zip(&b.accounts) {
            assert_eq!(x.id, y.id);
            assert_eq!(x.fans.len(), y.fans.len());
            assert_eq!(x.transactions.len(), y.transactions.len());
        }
        let c = SandboxData::generate(8, now());
        assert_ne!(a.accounts[0].id, c.accounts[0].id);
    }

    #[test]
    fn the_data_covers_what_agencies_ask_about() {
        let data = SandboxData::generate(42, now());
        for account in &data.accounts {
            assert!(account.id.starts_with("acct_"));
            assert!(account.fans.len() >= 45);
            assert!(account.fans.iter().any(|f| f.is_active(data.now)));
            assert!(account.fans.iter().any(|f| !f.is_active(data.now)));
            for kind in [
                TransactionKind::Subscription,
                TransactionKind::Tip,
                TransactionKind::Message,
                TransactionKind::Post,
            ] {
                assert!(
                    account.transactions.iter().any(|t| t.kind == kind),
                    "{} lacks {kind:?}",
                    account.username
                );
            }
            assert!(
                account
                    .transactions
                    .iter()
                    .all(|t| t.created_at <= data.now)
            );
            assert!(
                account
                    .transactions
                    .iter()
                    .any(|t| t.created_at > data.now - Duration::days(7))
            );
            assert!(!account.chats.is_empty());
            assert!(account.tracking_links.iter().all(|l| l.clicks > 0));
            assert_eq!(account.user_lists.len(), 3);
        }
    }
}
