//! Order-preserving parallel map over a vector on scoped threads, for the CPU-bound passes over
//! every migration (hashing, judging, linting): on 10,000 migrations each pass would otherwise run
//! on one core while the others idle. Small inputs stay on the calling thread, where spawning
//! would cost more than it saves.

/// Applies `f` to every item, on up to 8 threads when there are at least `min_parallel` items;
/// results keep the input order.
pub fn par_map<T, R, F>(items: Vec<T>, min_parallel: usize, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let threads = threads();
    if items.len() < min_parallel.max(2) || threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let total = items.len();
    let per = total.div_ceil(threads);
    let mut parts: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut rest = items;
    while !rest.is_empty() {
        let tail = rest.split_off(per.min(rest.len()));
        parts.push(rest);
        rest = tail;
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| s.spawn(move || part.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        // A panicking worker re-raises here; the core has no panics on purpose (see STYLE.md),
        // so this is a bug either way.
        let mut out = Vec::with_capacity(total);
        for h in handles {
            out.append(&mut h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        out
    })
}

/// The cores this process may use, at most 8; asked once, since std reads the cgroup's quota
/// files on every call.
fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_above_and_below_the_threshold() {
        let v: Vec<u32> = (0..1000).collect();
        assert_eq!(
            par_map(v.clone(), 10, |x| x * 2),
            v.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
        assert_eq!(par_map(vec![3, 1, 2], 10, |x| x + 1), vec![4, 2, 3]);
        assert_eq!(par_map(Vec::<u32>::new(), 0, |x| x), Vec::<u32>::new());
    }
}
