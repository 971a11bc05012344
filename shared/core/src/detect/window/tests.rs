//! Tests of the window: merging and capping, the stored form, old minutes leaving, and
//! minutes that refer to their file against minutes that copy their values.

use super::*;
use crate::log::count::Slot;

/// A file's strings and one minute's three lists of `(index, calls)` into them.
struct Delta {
    strings: Vec<Arc<str>>,
    lists: [Vec<(u32, u32)>; 3],
}

impl Delta {
    fn new(lists: [&[(&str, u32)]; 3]) -> Self {
        let mut strings: Vec<Arc<str>> = vec![];
        let lists = lists.map(|l| {
            l.iter()
                .map(|(s, n)| {
                    let i = strings.iter().position(|x| &**x == *s).unwrap_or_else(|| {
                        strings.push(Arc::from(*s));
                        strings.len() - 1
                    });
                    (i as u32, *n)
                })
                .collect()
        });
        Delta { strings, lists }
    }

    fn at(&self, minute: i64, calls: u32, errors: u32) -> MinuteDelta<'_> {
        MinuteDelta {
            minute,
            calls,
            errors,
            strings: &self.strings,
            lists: [&self.lists[0], &self.lists[1], &self.lists[2]],
            file: None,
        }
    }
}

fn named(prefix: &str, counts: &[u32]) -> Vec<(String, u32)> {
    counts.iter().enumerate().map(|(i, n)| (format!("{prefix}{i}"), *n)).collect()
}

fn borrowed(list: &[(String, u32)]) -> Vec<(&str, u32)> {
    list.iter().map(|(s, n)| (s.as_str(), *n)).collect()
}

fn texts(v: Values) -> Vec<(String, u32)> {
    v.map(|(s, n)| (s.to_string(), n)).collect()
}

#[test]
fn a_minute_keeps_its_three_attributes_apart_and_capped_when_deltas_merge() {
    // Given a minute with one error code, nine callers (one over the cap) and two agents
    let first = [named("code", &[3]), named("caller", &[1, 2, 3, 4, 5, 6, 7, 8, 9]), named("agent", &[10, 10])];
    let d1 = Delta::new([&borrowed(&first[0]), &borrowed(&first[1]), &borrowed(&first[2])]);
    let mut w = MinuteWindow::new(0);
    w.add(d1.at(7, 20, 3));
    // When a later file adds a second code, more calls of a known caller and a new agent
    let more = [named("code", &[0, 4]), named("caller", &[0, 0, 0, 0, 0, 0, 0, 0, 40]), named("agent", &[0, 0, 5])];
    let d2 = Delta::new([&borrowed(&more[0]), &borrowed(&more[1]), &borrowed(&more[2])]);
    w.add(d2.at(7, 20, 4));
    // Then each attribute is merged and capped on its own, as capped lists of strings are
    let expect: Vec<Vec<(String, u32)>> = first
        .iter()
        .zip(&more)
        .map(|(a, b)| {
            let (mut l, mut m) = (vec![], vec![]);
            add_capped(&mut l, &borrowed(a), MINUTE_ATTRIBUTION_CAP);
            add_capped(&mut m, &borrowed(b), MINUTE_ATTRIBUTION_CAP);
            add_capped(&mut l, &borrowed(&m), MINUTE_ATTRIBUTION_CAP);
            l
        })
        .collect();
    let Some((count, a)) = w.get(7) else {
        panic!("minute 7 has data");
    };
    assert_eq!((count.calls, count.errors), (40, 7));
    assert_eq!(texts(a.by_error()), expect[0]);
    assert_eq!(texts(a.by_caller()), expect[1]);
    assert_eq!(texts(a.by_agent()), expect[2]);
    assert_eq!(a.by_caller().count(), MINUTE_ATTRIBUTION_CAP);
    // And the stored form gives the same minute back
    let back: MinuteWindow = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
    assert_eq!(back, w);
}

#[test]
fn a_value_loaded_from_a_store_merges_with_the_same_text_from_a_new_file() {
    // Given a window loaded from its stored form (its strings are copies of their own)
    for callers in [2usize, 40] {
        let names: Vec<String> = (0..callers).map(|i| format!("arn:aws:iam::1:user/u{i}")).collect();
        let list: Vec<(&str, u32)> = names.iter().map(|s| (s.as_str(), 1)).collect();
        let d = Delta::new([&[("AccessDenied", 1)], &list[..MINUTE_ATTRIBUTION_CAP.min(callers)], &[]]);
        let mut w = MinuteWindow::new(0);
        w.add(d.at(5, 2, 1));
        let more: Vec<(&str, u32)> = list[MINUTE_ATTRIBUTION_CAP.min(callers)..].to_vec();
        let d = Delta::new([&[], &more, &[]]);
        w.add(d.at(6, 2, 0));
        let mut w: MinuteWindow = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        // When a new file brings the same code and caller as other copies
        let again = Delta::new([&[("AccessDenied", 2)], &[(names[0].as_str(), 2)], &[]]);
        w.add(again.at(5, 2, 2));
        // Then they add to the values held, not beside them
        let (c, a) = w.get(5).unwrap();
        assert_eq!((c.calls, c.errors), (4, 3));
        assert_eq!(texts(a.by_error()), vec![("AccessDenied".to_owned(), 3)]);
        assert_eq!(texts(a.by_caller())[0], (names[0].clone(), 3), "{callers} callers");
        assert_eq!(w.sum_errors(6, 2, "AccessDenied"), (6, 3));
        assert_eq!(w.sum_errors(6, 2, "Throttling"), (6, 0));
    }
}

#[test]
fn old_minutes_leave_no_values_or_strings_behind() {
    // Given an API whose every minute has a caller never seen before
    let mut w = MinuteWindow::new(0);
    for m in 0..2_000 {
        let caller = format!("arn:aws:sts::1:assumed-role/job/session-{m}");
        let d = Delta::new([&[], &[(caller.as_str(), 1)], &[("aws-sdk-go", 1)]]);
        w.add(d.at(m, 1, 0));
        // When its minutes settle and old ones are dropped
        w.settled_before = m - 5;
        w.trim();
    }
    // Then what is kept stays proportional to the minutes held
    assert_eq!(w.len(), 66);
    assert!(w.values.len() <= 4 * (2 * 66) + 256, "{} values", w.values.len());
    assert!(w.strings.len() <= 4 * 66 + 256, "{} strings", w.strings.len());
    // And every minute held still has its own values
    for m in 1_934..2_000 {
        let (_, a) = w.get(m).unwrap();
        let caller = format!("arn:aws:sts::1:assumed-role/job/session-{m}");
        assert_eq!(texts(a.by_caller()), vec![(caller, 1)]);
        assert_eq!(texts(a.by_agent()), vec![("aws-sdk-go".to_owned(), 1)]);
    }
}

/// A slot of a test file: minute, calls, errors, and the codes, callers and agents.
type TestSlot = (i64, u32, u32, [Vec<(String, u32)>; 3]);

/// One file of the given slots, as the pipeline shares it with the windows (strings
/// shared across files through `interned`).
fn file_of(interned: &mut Vec<Arc<str>>, slots: &[TestSlot]) -> Arc<FileValues> {
    let mut strings: Vec<Arc<str>> = vec![];
    let mut index = |s: &str| -> u32 {
        let shared = match interned.iter().find(|x| &***x == s) {
            Some(x) => x.clone(),
            None => {
                interned.push(Arc::from(s));
                interned[interned.len() - 1].clone()
            }
        };
        match strings.iter().position(|x| Arc::ptr_eq(x, &shared)) {
            Some(i) => i as u32,
            None => {
                strings.push(shared);
                (strings.len() - 1) as u32
            }
        }
    };
    let slots = slots
        .iter()
        .map(|(minute, calls, errors, lists)| {
            let [e, c, a] = lists.clone().map(|l| l.iter().map(|(s, n)| (index(s), *n)).collect());
            Slot {
                api: 0,
                minute: *minute,
                tally: crate::log::count::MinuteTally {
                    calls: *calls,
                    errors: *errors,
                    by_error: e,
                    by_caller: c,
                    by_agent: a,
                },
            }
        })
        .collect();
    Arc::new(FileValues { strings, slots })
}

/// Sum of the references to files, and whether the oldest file held is referred to.
fn file_references(w: &MinuteWindow) -> (usize, usize, bool) {
    let held: u32 = w.files.iter().map(|f| f.1).sum();
    let minutes = w.minutes.iter().filter(|x| matches!(x.at, At::File { .. })).count();
    (held as usize, minutes, w.files.front().is_none_or(|f| f.1 > 0))
}

#[test]
fn a_minute_from_one_file_reads_its_values_from_the_file_until_another_file_adds_to_it() {
    // Given a file with two minutes of one API
    let mut interned = vec![];
    let lists = |caller: &str, n: u32| {
        [vec![("AccessDenied".to_owned(), 1)], vec![(caller.to_owned(), n)], vec![("cli".to_owned(), n)]]
    };
    let f1 = file_of(&mut interned, &[(7, 3, 1, lists("a", 3)), (8, 2, 1, lists("b", 2))]);
    let mut w = MinuteWindow::new(0);
    w.add(MinuteDelta::of_slot(&f1, 0).unwrap());
    w.add(MinuteDelta::of_slot(&f1, 1).unwrap());
    // Then both minutes refer to the file (one reference each), without copying values
    assert!(w.minutes.iter().all(|x| matches!(x.at, At::File { .. })));
    assert_eq!((w.values.len(), w.strings.len(), w.files.len()), (0, 0, 1));
    assert_eq!(Arc::strong_count(&f1), 2);
    let (_, a) = w.get(7).unwrap();
    assert_eq!(texts(a.by_caller()), vec![("a".to_owned(), 3)]);
    assert_eq!(w.sum_errors(8, 2, "AccessDenied"), (5, 2));
    // When a later file adds to minute 8
    let f2 = file_of(&mut interned, &[(8, 4, 0, [vec![], vec![("b".to_owned(), 4)], vec![]])]);
    w.add(MinuteDelta::of_slot(&f2, 0).unwrap());
    // Then minute 8 holds the merged values itself and no longer refers to either file
    let (c, a) = w.get(8).unwrap();
    assert_eq!((c.calls, c.errors), (6, 1));
    assert_eq!(texts(a.by_caller()), vec![("b".to_owned(), 6)]);
    assert_eq!(texts(a.by_agent()), vec![("cli".to_owned(), 2)]);
    assert_eq!(w.sum_errors(8, 2, "AccessDenied"), (9, 2));
    assert_eq!(file_references(&w), (1, 1, true));
    // And once minute 7 leaves the window, the first file is let go
    w.settled_before = 7 + HISTORY_MINUTES + 1;
    w.trim();
    assert_eq!(w.len(), 1);
    assert!(w.files.is_empty());
    assert_eq!((Arc::strong_count(&f1), Arc::strong_count(&f2)), (1, 1));
}

proptest::proptest! {
    /// Windows that refer to their files' values and windows that copy every value hold
    /// the same minutes, sums, codes and attributions, whatever the order of the files,
    /// the overlap of their minutes, the lengths of the lists (over the cap too) and the
    /// trims between them; and a window holds exactly the files its minutes refer to.
    #[test]
    fn referring_to_files_reads_the_same_as_copying_every_value(
        files in proptest::collection::vec(
            proptest::collection::vec(
                (0i64..40, proptest::collection::vec((0usize..3, 0u8..12, 1u32..5), 0..30)),
                1..6,
            ),
            1..40,
        ),
        trims in proptest::collection::vec(proptest::option::of(0i64..120), 40),
    ) {
        let names = ["AccessDenied", "arn:aws:iam::1:user/u", "agent/"];
        let mut interned = vec![];
        let mut by_ref = MinuteWindow::new(0);
        let mut by_copy = MinuteWindow::new(0);
        for (k, slots) in files.iter().enumerate() {
            let slots: Vec<_> = slots
                .iter()
                .map(|(minute, values)| {
                    let mut lists: [Vec<(String, u32)>; 3] = Default::default();
                    for (a, v, n) in values {
                        let text = format!("{}{v}", names[*a]);
                        match lists[*a].iter_mut().find(|e| e.0 == text) {
                            Some(e) => e.1 += n,
                            None => lists[*a].push((text, *n)),
                        }
                    }
                    let errors = lists[0].iter().map(|e| e.1).sum::<u32>();
                    let calls = errors + lists[1].iter().map(|e| e.1).sum::<u32>() + 1;
                    (*minute, calls, errors, lists)
                })
                .collect();
            let file = file_of(&mut interned, &slots);
            for slot in 0..file.slots.len() as u32 {
                let d = MinuteDelta::of_slot(&file, slot).unwrap();
                by_ref.add(d);
                by_copy.add(MinuteDelta { file: None, ..d });
            }
            if let Some(Some(to)) = trims.get(k) {
                for w in [&mut by_ref, &mut by_copy] {
                    w.settled_before = w.settled_before.max(*to);
                    w.trim();
                }
            }
            proptest::prop_assert!(by_ref == by_copy);
            let (held, minutes, oldest_used) = file_references(&by_ref);
            proptest::prop_assert_eq!(held, minutes);
            proptest::prop_assert!(oldest_used);
        }
        for end in [10, 39, 60] {
            for code in (0..12).map(|v| format!("AccessDenied{v}")) {
                proptest::prop_assert_eq!(by_ref.sum_errors(end, 30, &code), by_copy.sum_errors(end, 30, &code));
            }
            proptest::prop_assert_eq!(by_ref.codes(end, 30), by_copy.codes(end, 30));
            for a in 0..3 {
                proptest::prop_assert_eq!(by_ref.attributions(end - 30, end, a), by_copy.attributions(end - 30, end, a));
            }
        }
    }
}

#[test]
fn capped_lists_keep_the_largest_values() {
    let mut l = vec![];
    add_capped(&mut l, &[("a", 1), ("b", 5), ("c", 3)], 2);
    assert_eq!(l, vec![("b".to_owned(), 5), ("c".to_owned(), 3)]);
}

#[test]
fn window_sums_cover_exactly_the_last_minutes() {
    let mut w = MinuteWindow::default();
    for m in (0..10).rev() {
        w.add(MinuteDelta { minute: m, calls: 1, ..MinuteDelta::default() });
    }
    assert_eq!(w.sum_calls(9, 5), 5);
    assert_eq!(w.sum_calls(2, 5), 3);
    w.settled_before = 100;
    w.trim();
    assert_eq!(w.len(), 0);
}
