//! The report of a simulated organization hour: what the files were, what handling them cost
//! in CPU and in the table per partition key per second, and what it costs.
//!
//! Definitions:
//! - **handler CPU per file**: the process's CPU time while the measured rounds were handled
//!   (every thread: the handler's tasks and its blocking reader threads), less the time spent
//!   in the table model, divided by the files. It is the core's work with in-memory ports
//!   (inflate, read, count, restore and replay, apply, build the commit); the model's share
//!   stands in for the DynamoDB store's item encoding (the same JSON and deflate).
//! - **files per second per vCPU**: files / (handler CPU + model) seconds: one instance with a
//!   whole vCPU and no network.
//! - **files per second per function instance**: 1 / the modelled Lambda duration per file:
//!   the CPU above at the function's share of a vCPU (memory / 1,769 MB), plus `--s3-ms` for
//!   the S3 GET and `--dynamodb-ms` for each DynamoDB request the store makes one after
//!   another (the model counts them; requests sent together count once). An instance handles
//!   one file at a time.
//! - **per partition key per second**: each file's operations are booked at its delivery
//!   second; a cell is one partition key in one second with any activity.

use crate::mix::{Stream, CLASSES};
use crate::{Args, Round};
use serde_json::{json, Value};
use std::collections::HashMap;
use trailsight_bench_ingest::cost::{price, Consumption, Cost};
use trailsight_bench_ingest::meter::{Cell, Table};
use trailsight_bench_ingest::percentile;

/// DynamoDB's throughput limits of one partition, per second.
const PARTITION_WRITE_UNITS: f64 = 1000.0;
const PARTITION_READ_UNITS: f64 = 3000.0;
/// Lambda gives a function one vCPU at this memory (MB), and a share of one below it.
const MB_PER_VCPU: f64 = 1769.0;

/// Max, p99 and p50 of some values, with the largest's cell.
fn spread(cells: &[(&(String, i64), &Cell)], value: impl Fn(&Cell) -> f64) -> Value {
    let mut values: Vec<(f64, &(String, i64))> =
        cells.iter().map(|(k, c)| (value(c), *k)).filter(|(v, _)| *v > 0.0).collect();
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let sorted: Vec<f64> = values.iter().map(|(v, _)| *v).collect();
    let top = values.last();
    json!({
        "cells": sorted.len(),
        "max": percentile(&sorted, 1.0),
        "p99": percentile(&sorted, 0.99),
        "p50": percentile(&sorted, 0.5),
        "max_key": top.map(|(_, k)| k.0.clone()),
        "max_second": top.map(|(_, k)| k.1),
    })
}

/// Per partition key per second, and per partition key over the hour.
fn partitions(cells: &HashMap<(String, i64), Cell>) -> Value {
    let all: Vec<(&(String, i64), &Cell)> = cells.iter().collect();
    let streams: Vec<(&(String, i64), &Cell)> = all.iter().filter(|(k, _)| k.0.starts_with("S#")).copied().collect();
    let objects: Vec<(&(String, i64), &Cell)> = all.iter().filter(|(k, _)| k.0.starts_with("O#")).copied().collect();
    let mut keys: HashMap<&str, Cell> = HashMap::new();
    for ((pk, _), c) in cells {
        let k = keys.entry(pk.as_str()).or_default();
        k.items += c.items;
        k.write_units += c.write_units;
        k.read_units += c.read_units;
    }
    let total_w: f64 = keys.values().map(|c| c.write_units).sum();
    let total_r: f64 = keys.values().map(|c| c.read_units).sum();
    let mut by_writes: Vec<(&str, Cell)> = keys.iter().map(|(k, c)| (*k, *c)).collect();
    by_writes.sort_by(|a, b| b.1.write_units.total_cmp(&a.1.write_units));
    let largest_reads = keys.iter().max_by(|a, b| a.1.read_units.total_cmp(&b.1.read_units));
    let share = |v: f64, total: f64| if total > 0.0 { v / total } else { 0.0 };
    let writes = spread(&all, |c| c.write_units);
    let reads = spread(&all, |c| c.read_units);
    json!({
        "keys": keys.len(),
        "stream_keys": keys.keys().filter(|k| k.starts_with("S#")).count(),
        "object_keys": keys.keys().filter(|k| k.starts_with("O#")).count(),
        "limits": {"write_units_per_second": PARTITION_WRITE_UNITS, "read_units_per_second": PARTITION_READ_UNITS},
        "write_units_per_second": writes,
        "read_units_per_second": reads,
        "items_per_second": spread(&all, |c| c.items as f64),
        "max_share_of_limit": {
            "writes": writes["max"].as_f64().unwrap_or(0.0) / PARTITION_WRITE_UNITS,
            "reads": reads["max"].as_f64().unwrap_or(0.0) / PARTITION_READ_UNITS,
        },
        "stream_keys_per_second": {
            "write_units": spread(&streams, |c| c.write_units),
            "read_units": spread(&streams, |c| c.read_units),
            "items": spread(&streams, |c| c.items as f64),
        },
        "object_keys_per_second": {
            "write_units": spread(&objects, |c| c.write_units),
            "read_units": spread(&objects, |c| c.read_units),
            "items": spread(&objects, |c| c.items as f64),
        },
        "largest_partition": by_writes.first().map(|(k, c)| json!({
            "key": k, "write_units": c.write_units, "read_units": c.read_units, "items": c.items,
            "share_of_writes": share(c.write_units, total_w),
        })),
        "largest_partition_by_reads": largest_reads.map(|(k, c)| json!({
            "key": k, "read_units": c.read_units, "share_of_reads": share(c.read_units, total_r),
        })),
        "top_by_writes": by_writes.iter().take(5).map(|(k, c)| json!({
            "key": k, "write_units": c.write_units, "share_of_writes": share(c.write_units, total_w),
        })).collect::<Vec<_>>(),
    })
}

/// Sums of some files.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    files: f64,
    records: u64,
    events: f64,
    write_units: f64,
    read_units: f64,
    round_trips: f64,
}

impl Sums {
    fn add(&mut self, f: &crate::FileResult) {
        self.files += 1.0;
        self.records += f.records;
        self.events += f.events as f64;
        self.write_units += f.consumed.write_units();
        self.read_units += f.consumed.read_units();
        self.round_trips += f64::from(f.consumed.round_trips);
    }

    fn per_file(&self, v: f64) -> f64 {
        if self.files > 0.0 {
            v / self.files
        } else {
            0.0
        }
    }
}

/// The sums of a run: over all files, per traffic class, and each round's units.
struct Totals {
    all: Sums,
    /// Per class of [`CLASSES`].
    classes: Vec<Sums>,
    /// (write, read) units per round.
    round_units: Vec<(f64, f64)>,
}

fn totals(streams: &[Stream], rounds: &[Round]) -> Totals {
    let mut t = Totals { all: Sums::default(), classes: vec![Sums::default(); CLASSES.len()], round_units: Vec::new() };
    for r in rounds {
        let mut s = Sums::default();
        for f in &r.files {
            t.all.add(f);
            s.add(f);
            if let Some(st) = streams.get(f.stream) {
                t.classes[st.class].add(f);
            }
        }
        t.round_units.push((s.write_units, s.read_units));
    }
    t
}

/// One row per traffic class: its accounts, files and records, and per file its units and
/// round trips.
fn class_rows(args: &Args, streams: &[Stream], classes: &[Sums]) -> Vec<Value> {
    CLASSES
        .iter()
        .zip(classes)
        .enumerate()
        .map(|(i, (c, s))| {
            let ddb = s.write_units * price::WRITE_UNIT + s.read_units * price::READ_UNIT;
            json!({
                "class": c.name,
                "accounts": streams.iter().filter(|st| st.class == i).count() / args.regions.len().max(1),
                "rate_scale": c.rate_scale,
                "files": s.files,
                "records": s.records,
                "records_per_file": s.per_file(s.records as f64),
                "write_units_per_file": s.per_file(s.write_units),
                "read_units_per_file": s.per_file(s.read_units),
                "round_trips_per_file": s.per_file(s.round_trips),
                "dynamodb_usd_per_100k_events": if s.records > 0 { ddb / s.records as f64 * 1e5 } else { 0.0 },
            })
        })
        .collect()
}

/// The report (JSON).
pub fn report(args: &Args, streams: &[Stream], rounds: &[Round], table: &Table) -> Value {
    let cells = table.take_cells();
    let Totals { all, classes, round_units } = totals(streams, rounds);
    let cpu_s: f64 = rounds.iter().map(|r| r.cpu_s).sum();
    let model_s: f64 = rounds.iter().map(|r| r.model_s).sum();
    let handler_s = (cpu_s - model_s).max(0.0);
    let vcpu = (f64::from(args.memory_mb) / MB_PER_VCPU).min(1.0);
    let cpu_ms = all.per_file(cpu_s * 1000.0);
    // Per file: its CPU at the function's share of a vCPU, and its requests one after another
    // (the S3 GET and the store's round trips).
    let lambda_ms =
        |f: &crate::FileResult| cpu_ms / vcpu + args.s3_ms + f64::from(f.consumed.round_trips) * args.dynamodb_ms;
    let round_lambda_s: Vec<f64> = rounds.iter().map(|r| r.files.iter().map(lambda_ms).sum::<f64>() / 1000.0).collect();
    let lambda_s: f64 = round_lambda_s.iter().sum();
    let max_instance_s = round_lambda_s.iter().copied().fold(0.0, f64::max);
    let cost = Cost::of(&Consumption {
        files: all.files,
        write_units: all.write_units,
        read_units: all.read_units,
        lambda_seconds: lambda_s,
        memory_mb: args.memory_mb,
        events: all.events,
    });
    let max_round = |f: fn(&(f64, f64)) -> f64| round_units.iter().map(f).fold(0.0, f64::max);
    let (max_w, max_r) = (max_round(|u| u.0), max_round(|u| u.1));
    let class_rows = class_rows(args, streams, &classes);
    let contention = table.contention();
    json!({
        "settings": {
            "accounts": args.accounts, "regions": args.regions, "hours": args.hours, "start": args.start,
            "warmup_rounds": args.warmup_rounds, "seed": args.seed, "rate_scale": args.rate_scale,
            "concurrency": args.concurrency, "memory_mb": args.memory_mb, "s3_ms": args.s3_ms, "dynamodb_ms": args.dynamodb_ms,
            "threads": std::thread::available_parallelism().map_or(0, usize::from),
            "region_weights": crate::mix::REGION_WEIGHTS,
        },
        "files": all.files,
        "records": all.records,
        "events": all.events,
        "rounds": rounds.len(),
        "files_per_round": {"max": rounds.iter().map(|r| r.files.len()).max().unwrap_or(0), "mean": all.files / rounds.len().max(1) as f64},
        "wall_s": {"handling": rounds.iter().map(|r| r.wall_s).sum::<f64>(), "generating": rounds.iter().map(|r| r.generate_s).sum::<f64>()},
        "handler": {
            "cpu_ms_per_file": all.per_file(handler_s * 1000.0),
            "model_ms_per_file": all.per_file(model_s * 1000.0),
            "files_per_vcpu_second": if cpu_s > 0.0 { all.files / cpu_s } else { 0.0 },
            "vcpu_share": vcpu,
            "lambda_ms_per_file": all.per_file(lambda_s * 1000.0),
            "files_per_second_per_instance": if lambda_s > 0.0 { all.files / lambda_s } else { 0.0 },
            "instance_seconds_per_round": {"max": max_instance_s, "mean": lambda_s / rounds.len().max(1) as f64},
            // Instances busy on average to handle the busiest round within its five minutes,
            // and within one minute.
            "instances_for_a_round": {"in_5_minutes": max_instance_s / 300.0, "in_1_minute": max_instance_s / 60.0},
            "conflicts": contention.conflicts,
            "already_committed": contention.already_committed,
            "turns_waited": contention.turns_waited,
        },
        "per_file": {
            "records": all.per_file(all.records as f64),
            "write_units": all.per_file(all.write_units),
            "read_units": all.per_file(all.read_units),
            "round_trips": all.per_file(all.round_trips),
        },
        "partitions": partitions(&cells),
        "table": {
            "write_units": all.write_units,
            "read_units": all.read_units,
            "per_round_max": {"write_units": max_w, "read_units": max_r},
            "per_second_if_a_round_spreads_over_a_minute": {"write_units": max_w / 60.0, "read_units": max_r / 60.0},
        },
        "classes": class_rows,
        "cost_usd": cost.to_json(),
        "cost_usd_total": cost.total(),
        "cost_usd_per_100k_events": cost.per_100k_events(all.records),
    })
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// A short summary for people.
pub fn summary(r: &Value) -> String {
    let s = &r["settings"];
    let h = &r["handler"];
    let p = &r["partitions"];
    let (w, rd, it) = (&p["write_units_per_second"], &p["read_units_per_second"], &p["items_per_second"]);
    let c = &r["cost_usd"];
    let per100k = |v: f64| {
        if f(&r["records"]) > 0.0 {
            v / f(&r["records"]) * 1e5
        } else {
            0.0
        }
    };
    let mut out = format!(
        "bench-org: {} accounts x {} regions, {} h after {} warm-up rounds: {:.0} files, {:.0} records, {:.0} events\n",
        s["accounts"],
        s["regions"].as_array().map_or(0, Vec::len),
        s["hours"],
        s["warmup_rounds"],
        f(&r["files"]),
        f(&r["records"]),
        f(&r["events"]),
    );
    out += &format!(
        "  handler: {:.2} ms CPU per file in memory + {:.2} ms encoding items: {:.0} files/s per vCPU; at {} MB ({:.3} vCPU), S3 {} ms, DynamoDB {} ms per request: {:.0} ms per file, {:.1} files/s per instance\n",
        f(&h["cpu_ms_per_file"]),
        f(&h["model_ms_per_file"]),
        f(&h["files_per_vcpu_second"]),
        s["memory_mb"],
        f(&h["vcpu_share"]),
        s["s3_ms"],
        s["dynamodb_ms"],
        f(&h["lambda_ms_per_file"]),
        f(&h["files_per_second_per_instance"]),
    );
    out += &format!(
        "  per partition key per second (limits {PARTITION_WRITE_UNITS} WCU, {PARTITION_READ_UNITS} RCU): writes max {:.0} WCU ({}), p99 {:.0}; reads max {:.0} RCU, p99 {:.0}; items max {:.0}, p99 {:.0}\n",
        f(&w["max"]),
        w["max_key"].as_str().unwrap_or("-"),
        f(&w["p99"]),
        f(&rd["max"]),
        f(&rd["p99"]),
        f(&it["max"]),
        f(&it["p99"]),
    );
    out += &format!(
        "  the busiest round takes {:.0} instance-seconds: {:.1} instances busy to handle it within its 5 minutes, {:.1} within a minute\n",
        f(&h["instance_seconds_per_round"]["max"]),
        f(&h["instances_for_a_round"]["in_5_minutes"]),
        f(&h["instances_for_a_round"]["in_1_minute"]),
    );
    let largest = &p["largest_partition"];
    out += &format!(
        "  largest partition: {} with {:.2}% of all write units; {} partition keys\n",
        largest["key"].as_str().unwrap_or("-"),
        f(&largest["share_of_writes"]) * 100.0,
        p["keys"],
    );
    out += &format!(
        "  table: at most {:.0} WCU and {:.0} RCU per round ({:.0} WCU/s, {:.0} RCU/s over a minute); conflicts {}, turns waited {}\n",
        f(&r["table"]["per_round_max"]["write_units"]),
        f(&r["table"]["per_round_max"]["read_units"]),
        f(&r["table"]["per_second_if_a_round_spreads_over_a_minute"]["write_units"]),
        f(&r["table"]["per_second_if_a_round_spreads_over_a_minute"]["read_units"]),
        h["conflicts"],
        h["turns_waited"],
    );
    out += &format!(
        "  cost per 100,000 events: ${:.4} (DynamoDB writes ${:.4}, reads ${:.4}, Lambda ${:.4}, S3 and SQS ${:.4}, EventBridge ${:.4})\n",
        f(&r["cost_usd_per_100k_events"]),
        per100k(f(&c["dynamodb_writes"])),
        per100k(f(&c["dynamodb_reads"])),
        per100k(f(&c["lambda_duration"]) + f(&c["lambda_requests"])),
        per100k(f(&c["s3_get"]) + f(&c["sqs"])),
        per100k(f(&c["eventbridge"])),
    );
    for row in r["classes"].as_array().into_iter().flatten() {
        out += &format!(
            "  {:8} {:>4} accounts {:>6.0} files {:>7.0} records/file {:>6.1} WCU {:>6.1} RCU per file  DynamoDB ${:.4} per 100k events\n",
            row["class"].as_str().unwrap_or("-"),
            row["accounts"],
            f(&row["files"]),
            f(&row["records_per_file"]),
            f(&row["write_units_per_file"]),
            f(&row["read_units_per_file"]),
            f(&row["dynamodb_usd_per_100k_events"]),
        );
    }
    out
}
