//! Process logs: `--log-format text|json|auto` for every command. JSON is
//! one object per line (`timestamp`, `level`, `service`, `target`,
//! `message`, `fields`, `spans`), what a SIEM's shipper reads without a
//! parsing rule; text is for people, coloured only on a terminal.

use serde_json::{Map, Value};
use std::fmt;
use std::io::IsTerminal;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// How a process writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise (a service manager, a file, a pipe).
    #[default]
    Auto,
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown log format {other:?}: text, json or auto")),
        }
    }
}

impl LogFormat {
    /// Auto resolved against whether stderr is a terminal.
    pub fn resolve(self, stderr_is_terminal: bool) -> Self {
        match (self, stderr_is_terminal) {
            (Self::Auto, true) => Self::Text,
            (Self::Auto, false) => Self::Json,
            (chosen, _) => chosen,
        }
    }
}

/// Installs the process's subscriber writing to stderr, with `service` in
/// every JSON line; `RUST_LOG` filters, else `default_level` (a service's
/// `info`; a one-shot command's `warn`, so its answer is not buried).
/// Returns the format in use. Idempotent: the first call wins.
pub fn init(format: LogFormat, service: &'static str, default_level: &str) -> LogFormat {
    let terminal = std::io::stderr().is_terminal();
    let format = format.resolve(terminal);
    let _ = CURRENT.set((format, service));
    install(format, service, default_level, terminal, std::io::stderr);
    format
}

static CURRENT: std::sync::OnceLock<(LogFormat, &'static str)> = std::sync::OnceLock::new();

/// The format and service [`init`] installed (text and `cartorio` before
/// it ran): for lines written beside `tracing`, the access log's.
pub fn current() -> (LogFormat, &'static str) {
    CURRENT.get().copied().unwrap_or((LogFormat::Text, "cartorio"))
}

fn install<W>(format: LogFormat, service: &'static str, default_level: &str, ansi: bool, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder.event_format(JsonLines { service }).try_init(),
        LogFormat::Text | LogFormat::Auto => builder.with_ansi(ansi).try_init(),
    };
}

/// One JSON object per event.
pub struct JsonLines {
    pub service: &'static str,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        event.record(&mut JsonFields(&mut fields));
        let message = fields.remove("message").unwrap_or(Value::String(String::new()));
        let mut timestamp = String::new();
        tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), Value::String(meta.level().as_str().to_ascii_lowercase()));
        line.insert("service".into(), Value::String(self.service.into()));
        line.insert("target".into(), Value::String(meta.target().into()));
        line.insert("message".into(), message);
        if !fields.is_empty() {
            line.insert("fields".into(), Value::Object(fields));
        }
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<Value> = scope.from_root().map(|span| Value::String(span.name().into())).collect();
            line.insert("spans".into(), Value::Array(spans));
        }
        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Event fields as JSON values of their own types.
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::String(value.into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn json_lines(log: impl FnOnce()) -> Vec<Value> {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .event_format(JsonLines { service: "responder" })
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let bytes = captured.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8(bytes)
            .expect("UTF-8")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
            .collect()
    }

    #[test]
    fn each_event_is_one_json_object_with_typed_fields() {
        let lines = json_lines(|| {
            let span = tracing::info_span!("presign");
            let _entered = span.enter();
            tracing::warn!(
                responses = 3u64,
                took_ms = 4i64,
                ok = true,
                key = "a \"quoted\"\nline",
                "published"
            );
            tracing::info!("second");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        let first = &lines[0];
        assert_eq!(first["level"], "warn");
        assert_eq!(first["service"], "responder");
        assert_eq!(first["message"], "published");
        assert_eq!(first["fields"]["responses"], 3);
        assert_eq!(first["fields"]["took_ms"], 4);
        assert_eq!(first["fields"]["ok"], true);
        assert_eq!(first["fields"]["key"], "a \"quoted\"\nline");
        assert_eq!(first["spans"], serde_json::json!(["presign"]));
        let stamp = first["timestamp"].as_str().expect("timestamp");
        assert!(stamp.len() >= 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T', "{stamp}");
        assert!(lines[1].get("fields").is_none(), "no empty fields object: {}", lines[1]);
    }

    #[test]
    fn auto_is_text_on_a_terminal_and_json_elsewhere() {
        assert_eq!(LogFormat::Auto.resolve(true), LogFormat::Text);
        assert_eq!(LogFormat::Auto.resolve(false), LogFormat::Json);
        assert_eq!(LogFormat::Text.resolve(false), LogFormat::Text);
        assert_eq!(LogFormat::Json.resolve(true), LogFormat::Json);
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("yaml".parse::<LogFormat>().is_err());
    }
}
