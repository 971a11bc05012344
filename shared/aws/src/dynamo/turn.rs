//! Turns: an advisory per-stream lease, so files of one account and region that collide
//! commit one after another ([`BaselineStore::take_turn`]) instead of all loading the same head
//! and all but one conflicting, reloading and retrying.
//!
//! One small item per stream, `S#{account}#{region}` / `TURN`, with the `holder` (the object
//! being committed) and `until` (milliseconds; after it the turn is free even if never ended,
//! so a crashed holder holds a stream for at most [`TURN_HOLD`]). A waiter polls it with a
//! consistent read (1 read unit) on a jittered, growing interval and takes it with a
//! conditional put (1 write unit) once it is free; the holder deletes it after its commit.
//! Correctness never depends on it: commits stay conditional on the loaded versions.

use super::*;
use rand::Rng;
use std::time::{Duration, Instant};
use trailsight_core::store::ports::Turn;

/// How long a turn is held at most before it passes on by itself: longer than any load and
/// commit takes.
pub const TURN_HOLD: Duration = Duration::from_secs(20);
/// How long a file waits for its turn before committing optimistically (the template's
/// function timeout is 60 seconds).
pub const DEFAULT_TURN_WAIT: Duration = Duration::from_secs(30);
/// A turn item is deleted after its commit; one left by a crashed holder expires after a day.
pub(super) const TURN_TTL_SECS: i64 = 86_400;
/// First and largest poll interval while waiting.
const POLL_FIRST: Duration = Duration::from_millis(15);
const POLL_MAX: Duration = Duration::from_millis(250);

impl DynamoStore {
    /// Waits for and takes `holder`'s turn on each stream, in order.
    pub(super) async fn wait_turns(&self, streams: &[StreamKey], holder: &str) -> Result<Turn, StoreError> {
        let deadline = Instant::now() + self.turn_wait;
        for stream in streams {
            if !self.wait_turn(stream, holder, deadline).await? {
                return Ok(Turn::Waited);
            }
        }
        Ok(Turn::Granted)
    }

    async fn wait_turn(&self, stream: &StreamKey, holder: &str, deadline: Instant) -> Result<bool, StoreError> {
        let mut interval = POLL_FIRST;
        loop {
            if self.turn_free(stream, holder).await? && self.try_take_turn(stream, holder).await? {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            // Full jitter: waiters that started together spread out.
            let sleep = interval.mul_f64(rand::thread_rng().gen_range(0.5..1.0));
            tokio::time::sleep(sleep.min(deadline - now)).await;
            interval = (interval * 2).min(POLL_MAX);
        }
    }

    /// Whether the stream's turn is free (absent, expired or already `holder`'s).
    async fn turn_free(&self, stream: &StreamKey, holder: &str) -> Result<bool, StoreError> {
        let item = self.get_consistent("GetItem (turn)", key(stream_pk(stream), "TURN")).await?;
        if let Ok(mut u) = self.usage.lock() {
            u.turn_polls += 1;
        }
        Ok(match item {
            None => true,
            Some(item) => get_s(&item, "holder") == Some(holder) || get_n(&item, "until").unwrap_or(0) < now_millis(),
        })
    }

    /// Takes the turn if it is still free; `false` when another waiter took it first.
    async fn try_take_turn(&self, stream: &StreamKey, holder: &str) -> Result<bool, StoreError> {
        let hold = i64::try_from(TURN_HOLD.as_millis()).unwrap_or(i64::MAX);
        let now = now_millis();
        let item = turn_item(stream, holder, now.saturating_add(hold), now_secs() + TURN_TTL_SECS);
        let result = self
            .put(item)
            .condition_expression("attribute_not_exists(pk) OR #u < :now OR holder = :me")
            .expression_attribute_names("#u", "until")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter(true, out.consumed_capacity());
                Ok(true)
            }
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_err("PutItem (turn)", e)),
        }
    }

    /// Ends `holder`'s turns (a turn someone else holds now is left alone).
    pub(super) async fn end_turns(&self, streams: &[StreamKey], holder: &str) -> Result<(), StoreError> {
        for stream in streams {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(stream_pk(stream), "TURN")))
                .condition_expression("holder = :me")
                .expression_attribute_values(":me", s(holder))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            match result {
                Ok(out) => self.meter(true, out.consumed_capacity()),
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(sdk_err("DeleteItem (turn)", e)),
            }
            if let Ok(mut u) = self.usage.lock() {
                u.modelled_write_units += 1.0;
            }
        }
        Ok(())
    }
}
