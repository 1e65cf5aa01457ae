//! Log output: text for people, or JSON lines for log collectors (`FATHOM_LOG_FORMAT`).
//!
//! In JSON each line is one object: `timestamp`, `level`, `target`, and the event's fields at
//! the top level (`message` among them). The access log (target `fathom::access`, one line per
//! HTTP request) carries `request_id`, `method`, `path`, `status`, `duration_ms` and, once known,
//! `token_id` and `operation`.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The subscriber `fathom` logs through: `filter` (tracing-subscriber's syntax; `info` when it
/// does not parse), in `format`, written to `writer`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// Installs [`subscriber`] for the process, writing to standard error.
pub fn init(format: LogFormat, filter: &str) {
    let _ = tracing::subscriber::set_global_default(subscriber(format, filter, std::io::stderr));
}
