//! The demo datasets of `serve --demo`: real open government data shipped
//! in `demo/` (see demo/README.md for sources and licences), loaded into an
//! empty database so a newcomer can query something at once.

use std::path::{Path, PathBuf};

use crate::catalog::{self, NewDataset, Tier};
use crate::data::NoProgress;
use crate::data::import::{ImportSource, import_file};
use crate::db::Db;
use crate::error::{Error, Result};

struct DemoDataset {
    file: &'static str,
    slug: &'static str,
    title: &'static str,
    description: &'static str,
    organization: &'static str,
    licence: &'static str,
    tags: &'static [&'static str],
    tier: Tier,
    sensitive: &'static [&'static str],
}

const DEMO: &[DemoDataset] = &[
    DemoDataset {
        file: "bts_nyc_flights_2013_first20000.csv",
        slug: "nyc-flights-2013",
        title: "NYC flights 2013 (first 20,000 departures)",
        description: "On-time record of flights that departed New York City (EWR, JFK, LGA) in 2013: dates, scheduled and actual times, delays, carrier, flight, tail number, route, air time, distance. The first 20,000 rows of the full file.",
        organization: "us-dot-bts",
        licence: "Public domain (U.S. federal government work); package CC0",
        tags: &["transport", "aviation", "on-time"],
        tier: Tier::Open,
        sensitive: &["tailnum"],
    },
    DemoDataset {
        file: "faa_registry_planes_nyc2013.csv",
        slug: "faa-planes-nyc-2013",
        title: "Aircraft that flew out of NYC in 2013",
        description: "FAA aircraft registry metadata for 3,322 tail numbers: build year, type, manufacturer, model, engines, seats.",
        organization: "us-faa",
        licence: "Public domain (U.S. federal government work); package CC0",
        tags: &["transport", "aviation", "registry"],
        tier: Tier::Open,
        sensitive: &["tailnum"],
    },
    DemoDataset {
        file: "asos_nyc_airport_weather_2013.csv",
        slug: "nyc-airport-weather-2013",
        title: "Hourly weather at EWR, JFK and LGA, 2013",
        description: "ASOS observations: temperature, dew point, humidity, wind, gusts, precipitation, pressure, visibility.",
        organization: "iowa-mesonet",
        licence: "Public domain (NOAA/NWS, FAA); package CC0",
        tags: &["weather", "aviation"],
        tier: Tier::Open,
        sensitive: &[],
    },
    DemoDataset {
        file: "fr_insee_communes_2026.csv",
        slug: "fr-communes-2026",
        title: "Communes de France 2026",
        description: "All 37,590 French communes (current, delegated, associated, municipal arrondissements): INSEE code, name, region, department, SIREN, postal codes, population.",
        organization: "fr-insee",
        licence: "Licence Ouverte / Open Licence (Etalab)",
        tags: &["geography", "france", "population"],
        tier: Tier::Open,
        sensitive: &[],
    },
    DemoDataset {
        file: "us_census_acs2012_sample.csv",
        slug: "us-census-acs-2012-sample",
        title: "American Community Survey 2012, 2,000 respondents",
        description: "Anonymised ACS 2012 respondents: income, employment, hours, race, age, gender, citizenship, commute, language, marital status, education, disability.",
        organization: "us-census-bureau",
        licence: "Public domain (U.S. federal government work)",
        tags: &["census", "income", "employment"],
        tier: Tier::Conditional,
        sensitive: &["income", "race", "citizen", "disability"],
    },
];

/// The folder holding the demo files: `KAIFANG_DEMO_DIR`, else `./demo`,
/// else the `demo/` folder of the source tree this binary was built from.
pub fn demo_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("KAIFANG_DEMO_DIR").map(PathBuf::from),
        Some(PathBuf::from("demo")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("demo")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join(DEMO.first().map(|d| d.file).unwrap_or("")).is_file())
}

/// Loads the demo datasets when the catalog is empty; returns how many.
pub async fn load_demo(db: &Db) -> Result<usize> {
    let dir = demo_dir().ok_or_else(|| {
        Error::bad_request(
            "the demo files were not found; run from the repository root or set KAIFANG_DEMO_DIR",
        )
    })?;
    db.run(move |conn| {
        let (_, total) = catalog::list_datasets(
            conn,
            &catalog::DatasetFilter::default(),
            &catalog::Visible {
                all: true,
                ..Default::default()
            },
            1,
            0,
        )?;
        if total > 0 {
            return Ok(0);
        }
        for d in DEMO {
            let new = NewDataset {
                slug: d.slug.to_string(),
                title: d.title.to_string(),
                description: d.description.to_string(),
                organization: d.organization.to_string(),
                licence: d.licence.to_string(),
                tags: d.tags.iter().map(|t| t.to_string()).collect(),
                tier: d.tier,
                sensitive_columns: d.sensitive.iter().map(|t| t.to_string()).collect(),
            };
            let record = catalog::create_dataset(conn, &new)?;
            let source = ImportSource {
                name: d.file.to_string(),
                imported_by: "demo".to_string(),
            };
            let version = import_file(conn, &record, &dir.join(d.file), &source, &mut NoProgress)?;
            tracing::info!(
                dataset.slug = d.slug,
                rows = version.row_count,
                "demo dataset loaded"
            );
        }
        Ok(DEMO.len())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensitive(slug: &str) -> Vec<&'static str> {
        DEMO.iter()
            .find(|d| d.slug == slug)
            .map(|d| d.sensitive.to_vec())
            .unwrap_or_default()
    }

    /// Sensitive columns are masked by default for everyone outside the
    /// dataset's organisation, so these lists are what the demo masks.
    #[test]
    fn the_demo_marks_census_answers_and_tail_numbers_sensitive() {
        assert_eq!(
            sensitive("us-census-acs-2012-sample"),
            ["income", "race", "citizen", "disability"]
        );
        assert_eq!(sensitive("faa-planes-nyc-2013"), ["tailnum"]);
        assert_eq!(sensitive("nyc-flights-2013"), ["tailnum"]);
    }
}
