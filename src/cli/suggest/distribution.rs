//! The shape of a set of amounts: how many, the median, the 90th
//! percentile and the largest.

use crate::money::Usd;

/// Count, median, p90 and maximum of some amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Distribution {
    pub(crate) count: usize,
    /// The middle amount; with an even count, halfway between the two
    /// middle ones (rounded down to the nano-dollar).
    pub(crate) median: Usd,
    /// The amount 90% are at or below (nearest rank).
    pub(crate) p90: Usd,
    pub(crate) max: Usd,
}

impl Distribution {
    /// The distribution of `amounts`, or `None` when there are none.
    pub(crate) fn of(mut amounts: Vec<Usd>) -> Option<Self> {
        if amounts.is_empty() {
            return None;
        }
        amounts.sort_unstable();
        let n = amounts.len();
        let median = if n % 2 == 1 {
            amounts[n / 2]
        } else {
            let (low, high) = (amounts[n / 2 - 1].nanos(), amounts[n / 2].nanos());
            Usd::from_nanos(low / 2 + high / 2 + (low % 2 + high % 2) / 2)
        };
        Some(Distribution {
            count: n,
            median,
            p90: amounts[(n * 9).div_ceil(10) - 1],
            max: amounts[n - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(values: &[u64]) -> Vec<Usd> {
        values.iter().map(|&c| Usd::from_cents(c)).collect()
    }

    #[test]
    fn median_p90_and_max_by_hand() {
        let d = Distribution::of(cents(&[5, 1, 3, 2, 4])).unwrap();
        assert_eq!(
            (d.count, d.median, d.p90, d.max),
            (
                5,
                Usd::from_cents(3),
                Usd::from_cents(5),
                Usd::from_cents(5)
            )
        );
        // Ten values: p90 is the 9th, the median halfway between 5th and 6th.
        let d = Distribution::of(cents(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1])).unwrap();
        assert_eq!(d.median, Usd::from_nanos(55_000_000));
        assert_eq!(d.p90, Usd::from_cents(9));
        assert_eq!(Distribution::of(Vec::new()), None);
    }
}
