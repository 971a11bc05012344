//! The stored form of a window (what a store keeps of an API's recent minutes): each minute's
//! counts and its attribution values as strings, whatever the window's arrays look like.

use super::{MinuteDelta, MinuteWindow, Values};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Attribution values of one minute and their calls, in the stored form of a window.
pub type Attributions = SmallVec<[(Arc<str>, u32); 2]>;

/// Counts of one API in one minute, with capped attributions (the stored form of a minute).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MinuteData {
    /// Calls.
    pub calls: u32,
    /// Calls with an errorCode.
    pub errors: u32,
    /// Errors per errorCode.
    #[serde(default, skip_serializing_if = "SmallVec::is_empty")]
    pub by_error: Attributions,
    /// Calls per caller ARN.
    #[serde(default, skip_serializing_if = "SmallVec::is_empty")]
    pub by_caller: Attributions,
    /// Calls per user agent.
    #[serde(default, skip_serializing_if = "SmallVec::is_empty")]
    pub by_agent: Attributions,
}

/// The stored form of a [`MinuteWindow`].
#[derive(Serialize, Deserialize)]
pub(super) struct WindowRepr {
    minutes: BTreeMap<i64, MinuteData>,
    settled_before: i64,
}

impl From<WindowRepr> for MinuteWindow {
    fn from(r: WindowRepr) -> Self {
        let mut w = MinuteWindow::new(r.settled_before);
        for (m, d) in r.minutes {
            let mut strings: Vec<Arc<str>> = vec![];
            let lists = [&d.by_error, &d.by_caller, &d.by_agent].map(|list| {
                list.iter()
                    .map(|(s, n)| {
                        strings.push(s.clone());
                        ((strings.len() - 1) as u32, *n)
                    })
                    .collect::<Vec<_>>()
            });
            w.add(MinuteDelta {
                minute: m,
                calls: d.calls,
                errors: d.errors,
                strings: &strings,
                lists: [&lists[0], &lists[1], &lists[2]],
                file: None,
            });
        }
        w
    }
}

impl From<MinuteWindow> for WindowRepr {
    fn from(w: MinuteWindow) -> Self {
        let minutes = (0..w.len())
            .filter_map(|i| w.at(i))
            .map(|(c, a)| {
                let list = |v: Values| v.map(|(s, n)| (s.clone(), n)).collect();
                let d = MinuteData {
                    calls: c.calls,
                    errors: c.errors,
                    by_error: list(a.by_error()),
                    by_caller: list(a.by_caller()),
                    by_agent: list(a.by_agent()),
                };
                (c.minute, d)
            })
            .collect();
        WindowRepr { minutes, settled_before: w.settled_before }
    }
}

/// Two windows are equal when they hold the same minutes with the same values, however
/// their arrays happen to be laid out.
impl PartialEq for MinuteWindow {
    fn eq(&self, other: &Self) -> bool {
        let texts = |v: Values| v.map(|(s, n)| (s.clone(), n)).collect::<Vec<_>>();
        self.settled_before == other.settled_before
            && self.minutes.iter().map(|x| x.count).eq(other.minutes.iter().map(|x| x.count))
            && (0..self.len()).all(|i| match (self.at(i), other.at(i)) {
                (Some((_, a)), Some((_, b))) => {
                    texts(a.by_error()) == texts(b.by_error())
                        && texts(a.by_caller()) == texts(b.by_caller())
                        && texts(a.by_agent()) == texts(b.by_agent())
                }
                _ => false,
            })
    }
}
