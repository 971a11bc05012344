//! The seasonal mean of the last hour a model was asked for, kept until the hour closes.

use std::sync::atomic::{AtomicU64, Ordering};

/// The seasonal mean of one hour, kept between the minutes that ask for it: it changes only
/// when an hour closes. Derived state, so two models never differ by it. One word holds the
/// hour (high half) and the mean (an `f32` value, low half), so it is never read torn.
#[derive(Debug, Default)]
pub(super) struct HourCache(AtomicU64);

impl HourCache {
    /// Nothing kept (hour 0 is never asked for in practice, and is then just recomputed).
    pub(super) fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// A NaN that marks an hour without a learned mean (a learned mean is never NaN).
    const NO_MEAN: u32 = 0x7fc0_0001;

    /// `Some(Some(mean))`, or `Some(None)` when the hour has no learned mean yet.
    pub(super) fn get(&self, hour: i64) -> Option<Option<f64>> {
        let word = self.0.load(Ordering::Relaxed);
        let h = u32::try_from(hour).ok().filter(|h| *h != 0)?;
        ((word >> 32) as u32 == h).then(|| {
            let bits = word as u32;
            (bits != Self::NO_MEAN).then(|| f64::from(f32::from_bits(bits)))
        })
    }

    pub(super) fn set(&self, hour: i64, value: Option<f64>) {
        let bits = match value {
            Some(v) if f64::from(v as f32) == v => (v as f32).to_bits(),
            Some(_) => return,
            None => Self::NO_MEAN,
        };
        if let Ok(h) = u32::try_from(hour) {
            self.0.store(u64::from(h) << 32 | u64::from(bits), Ordering::Relaxed);
        }
    }
}

impl Clone for HourCache {
    fn clone(&self) -> Self {
        HourCache(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl PartialEq for HourCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
