//! Prometheus metrics of this process: turns, latencies, what they spent,
//! API errors, queues and leases. `agencybot run` serves them at `/metrics`.

use std::sync::OnceLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Turns by platform, request type and outcome.
    pub turns: IntCounterVec,
    /// Seconds from a request's start to its last event, by platform and type.
    pub turn_seconds: HistogramVec,
    /// Seconds per model call, by model.
    pub model_seconds: HistogramVec,
    /// Tokens by model and kind (`prompt`, `completion`).
    pub tokens: IntCounterVec,
    /// Cost in millionths of a US dollar, by model (Prometheus counters are whole numbers).
    pub usd_micros: IntCounterVec,
    /// OnlyFansAPI credits, by model of the turn that spent them.
    pub credits: IntCounterVec,
    /// OnlyFansAPI errors by kind (`rate_limited`, `unauthorized`, `server`, `timeout`, `other`).
    pub api_errors: IntCounterVec,
    /// Messages queued or running, by channel.
    pub queued: IntGaugeVec,
    /// Leases this instance holds, by name (1 held, 0 not).
    pub leases: IntGaugeVec,
    /// Channels connected now.
    pub channels_connected: IntGauge,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("agencybot".into()), None)?;
    let seconds = vec![
        0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0, 120.0,
    ];
    let metrics = Metrics {
        turns: IntCounterVec::new(
            Opts::new(
                "turns_total",
                "Requests handled, by platform, type and outcome",
            ),
            &["platform", "kind", "outcome"],
        )?,
        turn_seconds: HistogramVec::new(
            HistogramOpts::new("turn_seconds", "End-to-end seconds of a request")
                .buckets(seconds.clone()),
            &["platform", "kind"],
        )?,
        model_seconds: HistogramVec::new(
            HistogramOpts::new("model_call_seconds", "Seconds per model call").buckets(seconds),
            &["model"],
        )?,
        tokens: IntCounterVec::new(
            Opts::new("tokens_total", "Model tokens, by model and kind"),
            &["model", "kind"],
        )?,
        usd_micros: IntCounterVec::new(
            Opts::new(
                "usd_micros_total",
                "Model and search cost in millionths of a US dollar",
            ),
            &["model"],
        )?,
        credits: IntCounterVec::new(
            Opts::new(
                "ofapi_credits_total",
                "OnlyFansAPI credits spent, by the turn's model",
            ),
            &["model"],
        )?,
        api_errors: IntCounterVec::new(
            Opts::new(
                "ofapi_errors_total",
                "OnlyFansAPI calls that failed, by kind",
            ),
            &["kind"],
        )?,
        queued: IntGaugeVec::new(
            Opts::new(
                "queued_messages",
                "Messages queued or being answered, by channel",
            ),
            &["channel"],
        )?,
        leases: IntGaugeVec::new(
            Opts::new(
                "leases_held",
                "Leases this instance holds (1) or waits for (0)",
            ),
            &["lease"],
        )?,
        channels_connected: IntGauge::new("channels_connected", "Channels connected now")?,
        registry,
    };
    let registry = &metrics.registry;
    registry.register(Box::new(metrics.turns.clone()))?;
    registry.register(Box::new(metrics.turn_seconds.clone()))?;
    registry.register(Box::new(metrics.model_seconds.clone()))?;
    registry.register(Box::new(metrics.tokens.clone()))?;
    registry.register(Box::new(metrics.usd_micros.clone()))?;
    registry.register(Box::new(metrics.credits.clone()))?;
    registry.register(Box::new(metrics.api_errors.clone()))?;
    registry.register(Box::new(metrics.queued.clone()))?;
    registry.register(Box::new(metrics.leases.clone()))?;
    registry.register(Box::new(metrics.channels_connected.clone()))?;
    Ok(metrics)
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    // The names and labels above are fixed and valid: building cannot fail.
    METRICS.get_or_init(|| build().expect("metric definitions are valid"))
}

impl Metrics {
    /// Everything, in Prometheus's text format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
