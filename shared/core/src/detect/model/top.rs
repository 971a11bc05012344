//! Decayed top-value lists (callers, user agents, error codes) of a model: space-saving
//! counters over shared strings, matched by pointer before content.

use std::sync::{Arc, LazyLock};

/// Values a top list keeps.
const TOP_K: usize = 8;

/// The attribution value of calls without an error.
pub(super) static NULL: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("null"));

/// Whether `a` and `b` are the same string: shared copies match by pointer; others (values
/// loaded from a store) are told apart by length and last byte before a full comparison
/// (ARNs and user agents of one account share long prefixes).
fn same(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || (a.len() == b.len() && a.as_bytes().last() == b.as_bytes().last() && a == b)
}

/// The entry of `list` for `value`: first by pointer alone, which reads no string (the bytes
/// of the other entries are usually out of cache), then by content.
fn find_shared<'a, T>(list: &'a mut [(Arc<str>, T)], value: &Arc<str>) -> Option<&'a mut (Arc<str>, T)> {
    let i =
        list.iter().position(|e| Arc::ptr_eq(&e.0, value)).or_else(|| list.iter().position(|e| same(&e.0, value)))?;
    list.get_mut(i)
}

pub(super) fn bump(list: &mut Vec<(Arc<str>, f64)>, value: &Arc<str>, n: f64) {
    if let Some(e) = find_shared(list, value) {
        e.1 += n;
        return;
    }
    list.push((value.clone(), n));
    if list.len() > TOP_K {
        // Space-saving: the newcomer replaces the smallest, inheriting its count.
        list.sort_by(|a, b| b.1.total_cmp(&a.1));
        if let Some(last) = list.pop() {
            if let Some(newest) = list.iter_mut().find(|e| same(&e.0, value)) {
                newest.1 = newest.1.max(last.1);
            }
        }
    }
}
