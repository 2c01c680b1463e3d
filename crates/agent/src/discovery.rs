//! Endpoint discovery: which catalog endpoints a request in plain words
//! means.
//!
//! BM25 over each endpoint's title, id, category, parameter names,
//! description and the `search_terms` the catalog carries (what agencies say:
//! "made", "promo", "schedule a post"), with Snowball stemming so "earned"
//! finds "earnings". A misspelt word is corrected to the nearest word of the
//! catalog. Action verbs tilt the ranking to the endpoints that act
//! ("send", "delete"), questions to the ones that read.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use agencybot_ofapi::{Access, Catalog, Endpoint};
use rust_stemmers::{Algorithm, Stemmer};

const K1: f64 = 1.2;
const B: f64 = 0.75;
/// How much more an endpoint whose whole title was asked for scores.
const TITLE_COVERAGE_BONUS: f64 = 0.5;
/// Results scoring below this share of the best one are left out.
const RELATIVE_CUTOFF: f64 = 0.3;

/// Words that say nothing about which endpoint is meant.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "for", "to", "my", "our", "we", "i", "me", "us", "you", "your", "and",
    "or", "in", "on", "at", "by", "with", "from", "is", "are", "was", "were", "be", "been",
    "being", "do", "does", "did", "doing", "how", "what", "whats", "which", "who", "whom", "when",
    "where", "why", "can", "could", "would", "should", "will", "shall", "please", "this", "that",
    "these", "those", "it", "its", "there", "their", "them", "they", "he", "she", "his", "her",
    "him", "about", "into", "up", "just", "now", "so", "than", "then", "very", "much", "many",
    "some", "any", "all", "mine", "ours", "also", "get", "got", "show", "tell", "want", "need",
    "let", "lets", "whole", "every", "each", "as",
];

/// First words that make a request a question or a request to see
/// something, not to change it.
const QUESTION_WORDS: &[&str] = &[
    "how", "what", "whats", "which", "who", "whos", "when", "where", "did", "does", "do", "is",
    "are", "was", "were", "show", "list", "tell", "any", "can", "could", "many", "much",
];

/// Words after a verb that make it a request to be shown something
/// ("send me", "give us", "get me").
const RECIPIENTS: &[&str] = &["me", "us"];

/// Stems of verbs that ask for something to be removed or undone.
const DESTRUCTIVE_VERBS: &[&str] = &[
    "delet",
    "remov",
    "unsend",
    "cancel",
    "clear",
    "revok",
    "unblock",
    "unpin",
    "unlik",
    "unmut",
    "disconnect",
    "unsubscrib",
    "unrestrict",
    "eras",
];

/// Stems of verbs that ask for something to be made or changed.
const WRITE_VERBS: &[&str] = &[
    "send", "creat", "add", "make", "schedul", "updat", "chang", "set", "edit", "renam", "pin",
    "block", "restrict", "start", "publish", "upload", "mark", "enabl", "disabl", "turn", "like",
    "mute", "hide", "archiv", "unarchiv", "generat", "request", "withdraw", "subscrib", "launch",
    "run", "give", "offer", "put", "invit", "attach", "repli", "write", "stop", "rais", "lower",
    "unarch", "tag", "export", "connect", "move",
];

/// Field weights: how many times a field's words count in an endpoint's bag.
const TITLE_WEIGHT: usize = 3;
const SLUG_WEIGHT: usize = 1;
const CATEGORY_WEIGHT: usize = 2;
const TERMS_WEIGHT: usize = 2;
const DESCRIPTION_WEIGHT: usize = 1;
const PARAMETER_WEIGHT: usize = 1;

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Lower-case words, camelCase split and apostrophes dropped, before
/// stopwords are removed.
fn raw_words(text: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(text.len() + 8);
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if c.is_uppercase() && previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
            spaced.push(' ');
        }
        if c != '\'' && c != '’' {
            spaced.push(c);
        }
        previous = Some(c);
    }
    spaced
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The words that count, not yet stemmed.
fn content_words(text: &str) -> Vec<String> {
    raw_words(text)
        .into_iter()
        .filter(|w| !is_stopword(w))
        .collect()
}

/// A stopword as written or once stemmed ("lists" is "list"…).
fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word) || STOPWORDS.contains(&stem(word).as_str())
}

fn stem(word: &str) -> String {
    stemmer().stem(word).into_owned()
}

struct Document {
    endpoint: &'static Endpoint,
    terms: HashMap<String, usize>,
    length: usize,
    /// The stems of the title, to favour the endpoint whose name is asked for.
    title: Vec<String>,
}

/// The catalog, indexed once.
struct Index {
    documents: Vec<Document>,
    /// Endpoints whose bag holds each stem.
    frequency: HashMap<String, usize>,
    /// Every word of the catalog, for correcting misspellings, with its stem.
    vocabulary: Vec<(String, String)>,
    average_length: f64,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| build(Catalog::onlyfans().endpoints()))
}

fn build(endpoints: &'static [Endpoint]) -> Index {
    let mut surface: HashSet<String> = HashSet::new();
    let documents: Vec<Document> = endpoints
        .iter()
        .map(|endpoint| {
            let slug = endpoint
                .id
                .split_once('.')
                .map_or(endpoint.id.as_str(), |(_, slug)| slug);
            let parameters: Vec<&str> = endpoint
                .schema
                .get("properties")
                .and_then(serde_json::Value::as_object)
                .map(|properties| {
                    properties
                        .keys()
                        .map(String::as_str)
                        .filter(|name| *name != "account")
                        .collect()
                })
                .unwrap_or_default();
            let fields: Vec<(String, usize)> = [
                (endpoint.title.clone(), TITLE_WEIGHT),
                (slug.to_owned(), SLUG_WEIGHT),
                (endpoint.category.clone(), CATEGORY_WEIGHT),
                (endpoint.search_terms.join(" "), TERMS_WEIGHT),
                (endpoint.description.clone(), DESCRIPTION_WEIGHT),
                (parameters.join(" "), PARAMETER_WEIGHT),
            ]
            .into_iter()
            .collect();
            let mut terms: HashMap<String, usize> = HashMap::new();
            let mut length = 0;
            for (text, weight) in fields {
                for word in content_words(&text) {
                    *terms.entry(stem(&word)).or_default() += weight;
                    length += weight;
                    surface.insert(word);
                }
            }
            let mut title: Vec<String> = content_words(&endpoint.title)
                .iter()
                .map(|w| stem(w))
                .collect();
            title.dedup();
            Document {
                endpoint,
                terms,
                length,
                title,
            }
        })
        .collect();
    let mut frequency: HashMap<String, usize> = HashMap::new();
    for document in &documents {
        for term in document.terms.keys() {
            *frequency.entry(term.clone()).or_default() += 1;
        }
    }
    let average_length =
        documents.iter().map(|d| d.length as f64).sum::<f64>() / documents.len().max(1) as f64;
    let mut vocabulary: Vec<(String, String)> = surface
        .into_iter()
        .map(|word| {
            let stemmed = stem(&word);
            (word, stemmed)
        })
        .collect();
    vocabulary.sort();
    Index {
        documents,
        frequency,
        vocabulary,
        average_length,
    }
}

/// Optimal string alignment distance: edits plus swaps of neighbours.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

impl Index {
    /// The stem a query word stands for: its own when the catalog has it,
    /// else that of the nearest catalog word ("earnigs" → "earn").
    fn query_stem(&self, word: &str) -> String {
        let stemmed = stem(word);
        if self.frequency.contains_key(&stemmed) {
            return stemmed;
        }
        if let Some(parts) = self.compound(word) {
            return parts;
        }
        let length = word.chars().count();
        // Short words are more often other words than misspellings.
        let allowed = match length {
            0..5 => return stemmed,
            5..9 => 1,
            _ => 2,
        };
        self.vocabulary
            .iter()
            .filter(|(candidate, _)| candidate.chars().count().abs_diff(length) <= allowed)
            .map(|(candidate, candidate_stem)| {
                (distance(word, candidate), candidate, candidate_stem)
            })
            .filter(|(d, _, _)| *d <= allowed)
            .min_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| self.df(b.2).cmp(&self.df(a.2)))
                    .then_with(|| a.1.cmp(b.1))
            })
            .map_or(stemmed, |(_, _, candidate_stem)| candidate_stem.clone())
    }

    /// A word written as two catalog words ("smartlink" → "smart link"),
    /// as the stems of both separated by a space.
    fn compound(&self, word: &str) -> Option<String> {
        let known = |part: &str| self.frequency.contains_key(&stem(part));
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        (3..chars.len().saturating_sub(2)).find_map(|split| {
            let (left, right) = word.split_at(chars[split].0);
            (known(left) && known(right)).then(|| format!("{} {}", stem(left), stem(right)))
        })
    }

    fn df(&self, term: &str) -> usize {
        self.frequency.get(term).copied().unwrap_or(0)
    }

    fn bm25(&self, document: &Document, terms: &[String]) -> f64 {
        let total = self.documents.len() as f64;
        terms
            .iter()
            .filter_map(|term| {
                let tf = *document.terms.get(term)? as f64;
                let df = self.df(term) as f64;
                let idf = (1.0 + (total - df + 0.5) / (df + 0.5)).ln();
                let norm = K1 * (1.0 - B + B * document.length as f64 / self.average_length);
                Some(idf * tf * (K1 + 1.0) / (tf + norm))
            })
            .sum()
    }
}

/// What kind of endpoint the wording asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Intent {
    Question,
    Remove,
    Change,
    Unclear,
}

impl Intent {
    /// From the words as written (a misspelling corrected to a verb must
    /// not make a question an order).
    fn of(raw: &[String]) -> Intent {
        if raw
            .first()
            .is_some_and(|w| QUESTION_WORDS.contains(&w.as_str()))
        {
            return Intent::Question;
        }
        let verbs = raw.iter().enumerate().filter_map(|(position, word)| {
            // "settings", "earnings": nouns whose stem is a verb; "pinned",
            // "blocked", "expired": states, not orders.
            if word.ends_with("ings") || word.ends_with("ed") {
                return None;
            }
            let shown_to_us = raw
                .get(position + 1)
                .is_some_and(|next| RECIPIENTS.contains(&next.as_str()));
            (!shown_to_us).then(|| stem(word))
        });
        // "pinned messages", "blocked users": a state asked about.
        let states = raw.iter().any(|word| {
            word.ends_with("ed")
                && (WRITE_VERBS.contains(&stem(word).as_str())
                    || DESTRUCTIVE_VERBS.contains(&stem(word).as_str()))
        });
        let mut intent = if states {
            Intent::Question
        } else {
            Intent::Unclear
        };
        for verb in verbs {
            if DESTRUCTIVE_VERBS.contains(&verb.as_str()) {
                return Intent::Remove;
            }
            if WRITE_VERBS.contains(&verb.as_str()) {
                intent = Intent::Change;
            }
        }
        intent
    }

    fn weight(self, access: Access) -> f64 {
        match (self, access) {
            (Intent::Question, Access::Read) => 1.4,
            (Intent::Unclear, Access::Read) => 1.2,
            (Intent::Remove, Access::Destructive) | (Intent::Change, Access::Write) => 1.5,
            _ => 1.0,
        }
    }
}

/// Up to 1.5 when every word of the endpoint's title was asked for:
/// "list expired fans" is List Expired Fans more than List Active Fans.
fn title_coverage(document: &Document, stems: &[String]) -> f64 {
    if document.title.is_empty() {
        return 1.0;
    }
    let covered = document.title.iter().filter(|t| stems.contains(t)).count();
    1.0 + TITLE_COVERAGE_BONUS * covered as f64 / document.title.len() as f64
}

/// Endpoints matching `query`, best first: at most `limit`, none far
/// below the best.
#[must_use]
pub fn find_endpoints(query: &str, limit: usize) -> Vec<&'static Endpoint> {
    let index = index();
    let raw = raw_words(query);
    let intent = Intent::of(&raw);
    let mut stems: Vec<String> = Vec::new();
    for word in raw.iter().filter(|w| !is_stopword(w)) {
        for stemmed in index.query_stem(word).split(' ') {
            if !stems.iter().any(|s| s == stemmed) {
                stems.push(stemmed.to_owned());
            }
        }
    }
    let mut scored: Vec<(f64, &'static Endpoint)> = index
        .documents
        .iter()
        .map(|document| {
            let score = index.bm25(document, &stems)
                * intent.weight(document.endpoint.access)
                * title_coverage(document, &stems);
            (score, document.endpoint)
        })
        .filter(|(score, _)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let best = scored.first().map_or(0.0, |(score, _)| *score);
    scored.retain(|(score, _)| *score >= best * RELATIVE_CUTOFF);
    // Wording that neither asks nor orders ("mass message") gets the best
    // endpoint that acts too, not only the ones that read.
    if intent == Intent::Unclear
        && limit > 1
        && scored.len() > limit
        && scored[..limit]
            .iter()
            .all(|(_, e)| e.access != Access::Write)
        && let Some(position) = scored.iter().position(|(_, e)| e.access == Access::Write)
    {
        let acting = scored.remove(position);
        scored.insert(limit - 1, acting);
    }
    scored
        .into_iter()
        .take(limit)
        .map(|(_, endpoint)| endpoint)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(query: &str) -> Vec<String> {
        find_endpoints(query, 5)
            .iter()
            .map(|e| e.id.clone())
            .collect()
    }

    #[test]
    fn words_are_split_stemmed_and_filtered() {
        assert_eq!(
            raw_words("startDate fan's user_list"),
            ["start", "date", "fans", "user", "list"]
        );
        assert_eq!(content_words("show me the earnings"), ["earnings"]);
        assert_eq!(stem("earnings"), "earn");
        assert_eq!(stem("scheduled"), "schedul");
    }

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert_eq!(distance("earnigs", "earnings"), 1);
        assert_eq!(distance("chargebakc", "chargeback"), 1);
        assert_eq!(distance("fans", "fans"), 0);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn misspelt_words_are_corrected_to_catalog_words() {
        assert_eq!(index().query_stem("earnigs"), "earn");
        assert_eq!(index().query_stem("trackng"), "track");
        assert_eq!(
            index().query_stem("zq"),
            "zq",
            "short words are not guessed"
        );
    }

    #[test]
    fn action_verbs_put_the_acting_endpoints_first() {
        assert_eq!(
            ids("send a mass message")[0],
            "mass-messaging.send-mass-message"
        );
        assert_eq!(
            ids("delete tracking link")[0],
            "tracking-links.delete-tracking-link"
        );
        assert_eq!(
            ids("create a tracking link")[0],
            "tracking-links.create-tracking-link"
        );
        let question = find_endpoints("which tracking links do we have", 5);
        assert_eq!(question[0].access, Access::Read);
        assert!(
            question
                .iter()
                .any(|e| e.id == "tracking-links.list-tracking-links")
        );
    }

    #[test]
    fn ordinary_wording_finds_what_was_meant() {
        let cases: [(&str, &[&str]); 6] = [
            ("mass message", &["mass-messaging.send-mass-message"]),
            (
                "how much did we earn this week",
                &[
                    "statistics.get-earnings",
                    "analytics-summary.get-earnings-overview",
                ],
            ),
            ("schedule a post", &["posts.send-post"]),
            ("give a fan a discount", &["promotions.create-promotion"]),
            (
                "which subscriptions expire soon",
                &["fans.list-active-fans", "statistics.get-subscriber-metrics"],
            ),
            (
                "any chargebaks last week?",
                &["chargebacks.list-chargebacks"],
            ),
        ];
        for (query, wanted) in cases {
            let found = ids(query);
            assert!(
                found.iter().any(|id| wanted.contains(&id.as_str())),
                "`{query}` found {found:?}"
            );
        }
    }

    #[test]
    fn compound_words_are_split() {
        assert_eq!(index().query_stem("smartlink"), "smart link");
    }

    #[test]
    fn nothing_is_found_for_unknown_words() {
        assert!(ids("zzzz qqq").is_empty());
        assert!(ids("").is_empty());
        assert!(ids("the of my").is_empty());
    }

    #[test]
    fn the_list_stays_short() {
        assert!(find_endpoints("link", 5).len() <= 5);
        assert!(find_endpoints("link", 2).len() <= 2);
    }
}
