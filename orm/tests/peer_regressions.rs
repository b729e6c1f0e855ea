//! Regression tests for defects found in peer typed databases (native_db,
//! typed-sled), so Skiff never grows them. Each test names the defect.

use serde::{Deserialize, Serialize};
use skiff::{Db, Error, Model};

#[derive(Model, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Reading {
    #[model(key)]
    id: u32,
    #[model(index)]
    celsius: f64,
    #[model(index)]
    sensor: (String, u32),
    #[model(unique)]
    serial: String,
}

fn reading(id: u32, celsius: f64, sensor: (&str, u32)) -> Reading {
    Reading {
        id,
        celsius,
        sensor: (sensor.0.to_string(), sensor.1),
        serial: format!("s{id}"),
    }
}

fn ids(items: impl Iterator<Item = skiff::Result<Reading>>) -> Vec<u32> {
    items.map(|r| r.unwrap().id).collect()
}

fn setup() -> skiff::Result<(Db, skiff::Collection<Reading>)> {
    let db = Db::temporary()?;
    let readings = db.collection::<Reading>()?;
    let data = [
        (1, -10.5, ("b", 2)),
        (2, -0.0, ("a", 10)),
        (3, 3.0, ("a", 9)),
        (4, -2.25, ("b", 1)),
        (5, 0.0, ("ab", 1)),
        (256, f64::NEG_INFINITY, ("a", 300)),
        (257, 1e300, ("b", 256)),
    ];
    for (id, c, s) in data {
        readings.insert(&reading(id, c, s))?;
    }
    Ok((db, readings))
}

/// native_db turned an inclusive range `..=3` into `..3`.
#[test]
fn inclusive_ranges_include_their_end() -> skiff::Result<()> {
    let (_db, readings) = setup()?;
    assert_eq!(ids(readings.range(..=3)?), vec![1, 2, 3]);
    assert_eq!(ids(readings.range(2..=3)?.rev()), vec![3, 2]);
    assert_eq!(
        ids(readings.index(Reading::CELSIUS).range(..=3.0)?),
        vec![256, 1, 4, 2, 5, 3]
    );
    Ok(())
}

/// native_db sorted negative floats wrongly (by their raw bits).
#[test]
fn negative_floats_sort_numerically() -> skiff::Result<()> {
    let (_db, readings) = setup()?;
    let order: Vec<f64> = readings
        .index(Reading::CELSIUS)
        .range::<f64, _>(..)?
        .map(|r| r.unwrap().celsius)
        .collect();
    assert_eq!(
        order,
        vec![f64::NEG_INFINITY, -10.5, -2.25, -0.0, 0.0, 3.0, 1e300]
    );
    assert_eq!(
        ids(readings.index(Reading::CELSIUS).range(-5.0..0.0)?),
        vec![4, 2],
        "-0.0 sorts below 0.0"
    );
    Ok(())
}

/// native_db stored `(String, u32)` keys out of order and could not scan a
/// prefix of them.
#[test]
fn tuple_keys_sort_by_component_and_scan_by_prefix() -> skiff::Result<()> {
    let (_db, readings) = setup()?;
    let sensors: Vec<(String, u32)> = readings
        .index(Reading::SENSOR)
        .range::<(String, u32), _>(..)?
        .keys()
        .collect::<Result<_, _>>()?;
    let expected: Vec<(String, u32)> = [
        ("a", 9),
        ("a", 10),
        ("a", 300),
        ("ab", 1),
        ("b", 1),
        ("b", 2),
        ("b", 256),
    ]
    .iter()
    .map(|(s, n)| (s.to_string(), *n))
    .collect();
    assert_eq!(sensors, expected, "\"a\" < \"ab\" and 9 < 10 < 300");
    assert_eq!(
        ids(readings.index(Reading::SENSOR).prefix(&("a",))?),
        vec![3, 2, 256],
        "\"ab\" is not in prefix \"a\""
    );
    Ok(())
}

/// native_db left the record behind when a write failed on a unique index.
#[test]
fn a_unique_violation_writes_no_record() -> skiff::Result<()> {
    let (_db, readings) = setup()?;
    let mut dup = reading(9, 1.0, ("z", 1));
    dup.serial = "s1".into();
    assert!(matches!(
        readings.insert(&dup),
        Err(Error::UniqueViolation { .. })
    ));
    assert_eq!(readings.get(&9)?, None);
    assert_eq!(readings.index(Reading::SENSOR).prefix(&("z",))?.count(), 0);
    Ok(())
}

/// typed-sled encoded integers little-endian, so 256 sorted before 2.
#[test]
fn integer_keys_sort_numerically() -> skiff::Result<()> {
    let (_db, readings) = setup()?;
    assert_eq!(ids(readings.iter()?), vec![1, 2, 3, 4, 5, 256, 257]);
    assert_eq!(ids(readings.range(5..300)?), vec![5, 256, 257]);
    Ok(())
}
