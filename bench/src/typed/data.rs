//! The records and queries of the `typed` subcommand, generated once from a seed so
//! that both engines get the very same ones in the very same order, with the answer
//! every query must give (the workloads check each engine against them).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::args::TypedArgs;
use crate::BenchResult;

/// Records per transaction of the bulk load.
pub const BATCH: usize = 1_000;
/// Records per city, on average: what a non-unique index query returns.
pub const PER_CITY: usize = 10;
/// Distinct scores per record: scores are drawn from `0..records × SCORE_SPREAD`.
pub const SCORE_SPREAD: u64 = 10;
/// Records an index range scan returns, on average.
pub const SCAN_LEN: u64 = 100;
/// Length of the random `name` field.
pub const NAME_LEN: usize = 12;
/// Length of the random `bio` field; with the other fields, about 100 bytes a record.
pub const BIO_LEN: usize = 48;

/// One record, engine-neutral: each engine converts it into its own model type
/// before the clock starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Primary key.
    pub id: u64,
    /// Unique index.
    pub email: String,
    /// Non-unique index: the number of the city ([`city_name`] gives its name).
    pub city: u32,
    /// Non-unique index, queried by ranges.
    pub score: u32,
    /// Unindexed payload.
    pub name: String,
    /// Unindexed payload.
    pub bio: String,
}

/// The name of city number `n`, as stored and queried.
pub fn city_name(n: u32) -> String {
    format!("city-{n:06}")
}

/// The email of the record with primary key `id`: unique because `id` is.
pub fn email_of(id: u64) -> String {
    format!("user{id:08}@example.com")
}

/// Everything both engines are fed, in order.
#[derive(Debug, Clone)]
pub struct TypedData {
    /// Seed it was generated from.
    pub seed: u64,
    /// Every record in insertion order; ids are a shuffle of `0..people.len()`.
    pub people: Vec<Person>,
    /// How many of `people` (from the front) are bulk-loaded; the rest are inserted
    /// one transaction each.
    pub bulk: usize,
    /// Number of distinct cities.
    pub cities: u32,
    /// Width of every score range scan (`lo..lo + range_width`).
    pub range_width: u32,
    /// Primary keys to get, in order.
    pub gets: Vec<u64>,
    /// Primary keys whose email is looked up through the unique index, in order.
    pub lookups: Vec<u64>,
    /// Cities to query through the non-unique index, in order.
    pub city_queries: Vec<u32>,
    /// Lower bounds of the score range scans, in order.
    pub ranges: Vec<u32>,
    /// Updates, in order: move the record with this id to this city.
    pub updates: Vec<(u64, u32)>,
    /// Records all the city queries return together, before the updates.
    pub city_hits: u64,
    /// Records all the range scans return together.
    pub range_hits: u64,
}

/// The position of primary key `id` in a per-record table: ids are `0..records`,
/// which fit a `usize` since the records themselves are in a `Vec`.
pub fn slot(id: u64) -> usize {
    usize::try_from(id).expect("record ids index a Vec")
}

/// `n` random lowercase letters.
fn letters(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(rng.gen_range(b'a'..=b'z'))).collect()
}

impl TypedData {
    /// Generates the records and queries `opts` asks for from `opts.seed`.
    pub fn generate(opts: &TypedArgs) -> BenchResult<TypedData> {
        let total = opts.records + opts.singles;
        let total64 = u64::try_from(total)?;
        let cities = u32::try_from((total / PER_CITY).max(1)).map_err(|_| "too many records")?;
        let score_space = u32::try_from(total64 * SCORE_SPREAD).map_err(|_| "too many records")?;
        let range_width = u32::try_from(SCAN_LEN * SCORE_SPREAD)?.min(score_space);
        let mut rng = StdRng::seed_from_u64(opts.seed);

        let mut ids: Vec<u64> = (0..total64).collect();
        ids.shuffle(&mut rng);
        let people: Vec<Person> = ids
            .iter()
            .map(|&id| Person {
                id,
                email: email_of(id),
                city: rng.gen_range(0..cities),
                score: rng.gen_range(0..score_space),
                name: letters(&mut rng, NAME_LEN),
                bio: letters(&mut rng, BIO_LEN),
            })
            .collect();

        let gets = (0..opts.reads).map(|_| rng.gen_range(0..total64)).collect();
        let lookups = (0..opts.reads).map(|_| rng.gen_range(0..total64)).collect();
        let city_queries: Vec<u32> = (0..opts.queries).map(|_| rng.gen_range(0..cities)).collect();
        let ranges: Vec<u32> = (0..opts.queries)
            .map(|_| rng.gen_range(0..=score_space - range_width))
            .collect();
        let updates = (0..opts.updates)
            .map(|_| (rng.gen_range(0..total64), rng.gen_range(0..cities)))
            .collect();

        let mut data = TypedData {
            seed: opts.seed,
            people,
            bulk: opts.records,
            cities,
            range_width,
            gets,
            lookups,
            city_queries,
            ranges,
            updates,
            city_hits: 0,
            range_hits: 0,
        };
        let counts = data.city_counts(false);
        data.city_hits = data
            .city_queries
            .iter()
            .map(|&c| u64::from(counts[c as usize]))
            .sum();
        let mut scores: Vec<u32> = data.people.iter().map(|p| p.score).collect();
        scores.sort_unstable();
        data.range_hits = data
            .ranges
            .iter()
            .map(|&lo| {
                let (a, b) = (lo, lo + data.range_width);
                u64::try_from(scores.partition_point(|&s| s < b) - scores.partition_point(|&s| s < a))
            })
            .sum::<Result<u64, _>>()?;
        Ok(data)
    }

    /// The city of every record, indexed by primary key, before or after all the
    /// updates.
    pub fn city_by_id(&self, after_updates: bool) -> Vec<u32> {
        let mut city = vec![0; self.people.len()];
        for p in &self.people {
            city[slot(p.id)] = p.city;
        }
        if after_updates {
            for &(id, to) in &self.updates {
                city[slot(id)] = to;
            }
        }
        city
    }

    /// How many records each city has, before or after all the updates.
    pub fn city_counts(&self, after_updates: bool) -> Vec<u32> {
        let mut counts = vec![0; self.cities as usize];
        for c in self.city_by_id(after_updates) {
            counts[c as usize] += 1;
        }
        counts
    }

    /// Average records a city query returns.
    pub fn per_city_query(&self) -> f64 {
        self.city_hits as f64 / self.city_queries.len().max(1) as f64
    }

    /// Average records a range scan returns.
    pub fn per_range_scan(&self) -> f64 {
        self.range_hits as f64 / self.ranges.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(records: usize, singles: usize) -> TypedArgs {
        let mut o = TypedArgs::parse(&[]).unwrap().unwrap();
        (o.records, o.singles, o.reads, o.queries, o.updates) = (records, singles, 50, 40, 30);
        o
    }

    #[test]
    fn deterministic_and_unique() {
        let a = TypedData::generate(&opts(900, 100)).unwrap();
        let b = TypedData::generate(&opts(900, 100)).unwrap();
        assert_eq!(a.people, b.people);
        assert_eq!((a.gets.clone(), a.updates.clone()), (b.gets, b.updates));
        assert_eq!((a.people.len(), a.bulk, a.cities), (1000, 900, 100));
        let mut ids: Vec<u64> = a.people.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..1000).collect::<Vec<u64>>());
        assert!(a.people.iter().all(|p| p.email == email_of(p.id)));
        assert_eq!(
            (a.city_queries.len(), a.ranges.len(), a.lookups.len()),
            (40, 40, 50)
        );
    }

    /// The expected answers agree with brute force over the records.
    #[test]
    fn expectations_match_brute_force() {
        let d = TypedData::generate(&opts(2_000, 500)).unwrap();
        let city_hits: usize = d
            .city_queries
            .iter()
            .map(|&c| d.people.iter().filter(|p| p.city == c).count())
            .sum();
        assert_eq!(d.city_hits, city_hits as u64);
        let range_hits: usize = d
            .ranges
            .iter()
            .map(|&lo| {
                d.people
                    .iter()
                    .filter(|p| (lo..lo + d.range_width).contains(&p.score))
                    .count()
            })
            .sum();
        assert_eq!(d.range_hits, range_hits as u64);
        // About PER_CITY and SCAN_LEN records each, give or take the randomness.
        assert!(
            (5.0..15.0).contains(&d.per_city_query()),
            "{}",
            d.per_city_query()
        );
        assert!(
            (70.0..130.0).contains(&d.per_range_scan()),
            "{}",
            d.per_range_scan()
        );
        let after = d.city_counts(true);
        assert_eq!(after.iter().sum::<u32>(), 2_500);
        let (id, to) = *d.updates.last().unwrap();
        assert_eq!(d.city_by_id(true)[slot(id)], to);
    }
}
