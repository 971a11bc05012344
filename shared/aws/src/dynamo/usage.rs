//! Metering: requests and capacity units as DynamoDB reported them and as modelled from item
//! sizes (emulators report fixed units), for the function's metrics and the cost benchmark.

use super::*;

impl DynamoStore {
    /// Counts one request and the capacity the service reported for it.
    pub(super) fn meter<'a>(&self, write: bool, caps: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        let total: f64 = caps.into_iter().filter_map(ConsumedCapacity::capacity_units).sum();
        if let Ok(mut u) = self.usage.lock() {
            u.requests += 1;
            if write {
                u.write_units += total;
            } else {
                u.read_units += total;
            }
        }
    }

    /// Adds the write units DynamoDB charges for writing `item` (1 per KB, `factor` 2 in a
    /// transaction).
    pub(super) fn model_write(&self, item: &Item, factor: f64) {
        if let Ok(mut u) = self.usage.lock() {
            u.modelled_write_units += write_units(item_size(item), factor);
        }
    }

    /// Adds the read units of strongly consistent reads of `items` (1 per 4 KB each; a key
    /// that finds nothing still costs 1).
    pub(super) fn model_reads(&self, items: &[Item], missing: usize) {
        if let Ok(mut u) = self.usage.lock() {
            let found: f64 = items.iter().map(|i| read_units(item_size(i))).sum();
            u.modelled_read_units += found + missing as f64;
        }
    }

    /// Requests and units since the last call (for metrics and the cost benchmark).
    pub fn take_usage(&self) -> Usage {
        self.usage.lock().map(|mut u| std::mem::take(&mut *u)).unwrap_or_default()
    }
}
