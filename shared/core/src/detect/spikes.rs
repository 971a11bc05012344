//! The scheduled daily spikes of one API (nightly jobs, batches), with a bitmap of the
//! minutes of the day that have one, so the minutes without (nearly all) are told apart
//! without reading the list.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A recurring excess at one minute of the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaySpike {
    /// Minute of the day (0..1440).
    pub at: u16,
    /// Excess calls over the seasonal mean.
    pub excess: f32,
    /// Day (since the epoch) it was last seen.
    pub day: i32,
    /// Distinct days it was seen on (saturating): it counts from the second day on, so a
    /// one-off jump (the first morning of a new API) is not taken for a nightly job.
    #[serde(default)]
    pub days_seen: u8,
}

/// Bits for the 1,440 minutes of a day.
const WORDS: usize = 1440usize.div_ceil(64);

/// The daily spikes of one API, in the order they were learned. Stored as the plain list;
/// the bitmap is derived from it.
#[derive(Debug, Clone, Default)]
pub struct DaySpikes {
    list: Vec<DaySpike>,
    /// One bit per minute of the day, set when some spike of `list` is at that minute.
    minutes: [u64; WORDS],
}

impl DaySpikes {
    /// Whether some spike is at `minute_of_day`.
    pub fn has(&self, minute_of_day: u16) -> bool {
        let m = usize::from(minute_of_day);
        self.minutes.get(m / 64).is_some_and(|w| w & (1 << (m % 64)) != 0)
    }

    /// The spikes, in the order they were learned.
    pub fn iter(&self) -> std::slice::Iter<'_, DaySpike> {
        self.list.iter()
    }

    /// How many spikes there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The spikes at `minute_of_day` (at most one when learned by [`super::ApiModel`]).
    pub fn at(&self, minute_of_day: u16) -> impl Iterator<Item = &DaySpike> + '_ {
        // Minutes without a spike (nearly all) do not walk the list at all.
        let list = if self.has(minute_of_day) { &self.list[..] } else { &[] };
        list.iter().filter(move |s| s.at == minute_of_day)
    }

    /// The first spike at `minute_of_day`, to update.
    pub fn first_at_mut(&mut self, minute_of_day: u16) -> Option<&mut DaySpike> {
        if !self.has(minute_of_day) {
            return None;
        }
        self.list.iter_mut().find(|s| s.at == minute_of_day)
    }

    /// Adds a spike.
    pub fn push(&mut self, spike: DaySpike) {
        mark(&mut self.minutes, spike.at);
        self.list.push(spike);
    }

    /// Removes the spike at position `i` (the last one takes its place).
    pub fn swap_remove(&mut self, i: usize) {
        if i >= self.list.len() {
            return;
        }
        self.list.swap_remove(i);
        let mut minutes = [0; WORDS];
        for s in &self.list {
            mark(&mut minutes, s.at);
        }
        self.minutes = minutes;
    }
}

fn mark(minutes: &mut [u64; WORDS], minute_of_day: u16) {
    let m = usize::from(minute_of_day);
    if let Some(w) = minutes.get_mut(m / 64) {
        *w |= 1 << (m % 64);
    }
}

impl From<Vec<DaySpike>> for DaySpikes {
    fn from(list: Vec<DaySpike>) -> Self {
        let mut spikes = DaySpikes::default();
        for s in list {
            spikes.push(s);
        }
        spikes
    }
}

impl PartialEq for DaySpikes {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

impl Serialize for DaySpikes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.list.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DaySpikes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<DaySpike>::deserialize(deserializer).map(DaySpikes::from)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spike(at: u16) -> DaySpike {
        DaySpike { at, excess: f32::from(at), day: 1, days_seen: 2 }
    }

    #[test]
    fn the_bitmap_follows_the_list_through_adds_removals_and_storage() {
        // Given spikes at the first and last minutes of the day and in between
        let mut s = DaySpikes::default();
        for at in [0, 63, 64, 700, 1439] {
            s.push(spike(at));
        }
        // When one is removed and the rest stored and read back
        s.swap_remove(1);
        let back: DaySpikes = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        // Then exactly the remaining minutes have a spike, before and after storage
        for d in [&s, &back] {
            let with: Vec<u16> = (0..1440).filter(|m| d.has(*m)).collect();
            assert_eq!(with, vec![0, 64, 700, 1439]);
            assert_eq!(d.at(700).count(), 1);
            assert_eq!(d.at(63).count(), 0);
        }
        // And the stored form is the plain list
        let stored: Vec<DaySpike> = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(stored.iter().map(|x| x.at).collect::<Vec<_>>(), vec![0, 1439, 64, 700]);
    }
}
