//! Logs and metrics for the Lambda functions: JSON logs through `tracing`, and CloudWatch
//! Embedded Metric Format (EMF) lines, which CloudWatch turns into metrics without any API
//! call (namespace `trailsight`).

use serde_json::{json, Map, Value};

/// Installs a JSON `tracing` subscriber on stdout; the level comes from `AWS_LAMBDA_LOG_LEVEL`
/// or `RUST_LOG` (default `info`).
pub fn init_json_logs() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(level.to_lowercase())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (tests) keeps the first subscriber.
    let _ =
        tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).with_target(false).try_init();
}

/// One EMF record: named values with units, printed as one JSON line.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    values: Vec<(&'static str, f64, &'static str)>,
    properties: Map<String, Value>,
    /// Properties that are also dimensions, beside `function`.
    dimensions: Vec<&'static str>,
}

impl Metrics {
    /// Adds a metric (`unit` is a CloudWatch unit: `Count`, `Milliseconds`...).
    pub fn add(&mut self, name: &'static str, value: f64, unit: &'static str) -> &mut Self {
        self.values.push((name, value, unit));
        self
    }

    /// Adds a searchable property that is not a metric (e.g. the function name).
    pub fn property(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    /// Adds a property that is also a dimension: the metrics are then published both per
    /// `function` and per `function` and this property (e.g. per backfilled stream).
    pub fn dimension(&mut self, name: &'static str, value: impl Into<Value>) -> &mut Self {
        self.property(name, value);
        self.dimensions.push(name);
        self
    }

    /// The EMF document.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        let mut doc = self.properties.clone();
        // The `function` property, when set, is the metrics' one dimension (alarms use it).
        let dims: Vec<&str> = if doc.contains_key("function") { vec!["function"] } else { vec![] };
        let mut dimension_sets = vec![dims.clone()];
        if !self.dimensions.is_empty() {
            dimension_sets.push(dims.iter().chain(&self.dimensions).copied().collect());
        }
        let defs: Vec<Value> = self.values.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit})).collect();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": "trailsight", "Dimensions": dimension_sets, "Metrics": defs}],
            }),
        );
        for (name, value, _) in &self.values {
            doc.insert((*name).to_owned(), json!(value));
        }
        Value::Object(doc)
    }

    /// Prints the EMF line on stdout, where the Lambda log agent picks it up.
    pub fn emit(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        println!("{}", self.to_emf(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_declares_every_metric_it_carries() {
        // Given two metrics
        let mut m = Metrics::default();
        m.add("Files", 2.0, "Count").add("Duration", 12.5, "Milliseconds");
        // When rendered
        let doc = m.to_emf(1_700_000_000_000);
        // Then the values sit at the top level and are declared under _aws
        assert_eq!(doc["Files"], 2.0);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"], "Duration");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "trailsight");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        // And with a function property, it is the dimension
        m.property("function", "ingest");
        assert_eq!(m.to_emf(0)["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
    }

    #[test]
    fn a_dimension_publishes_the_metrics_per_function_and_per_that_dimension() {
        // Given backfill metrics of one stream
        let mut m = Metrics::default();
        m.add("FilesBackfilled", 3.0, "Count")
            .property("function", "backfill")
            .dimension("stream", "111122223333/us-east-1");
        // When rendered, then both aggregations are declared and the stream is a value
        let doc = m.to_emf(0);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"], ["function", "stream"]]));
        assert_eq!(doc["stream"], "111122223333/us-east-1");
    }
}
