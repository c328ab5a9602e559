//! The progress of an import on the terminal: rows scanned, a bar while
//! loading with rows per second, then the indexes being built.

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::ImportProgress;

/// A terminal progress bar with rows per second.
pub(super) struct TerminalProgress {
    bar: ProgressBar,
    loading: bool,
}

impl TerminalProgress {
    pub(super) fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} checking {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        TerminalProgress {
            bar,
            loading: false,
        }
    }

    pub(super) fn finish(&self) {
        self.bar.finish();
    }
}

impl ImportProgress for TerminalProgress {
    fn scanned(&mut self, bytes: u64, rows: u64) {
        self.bar
            .set_message(format!("{rows} rows, {} KiB", bytes / 1024));
        self.bar.tick();
    }

    fn loading(&mut self, done: u64, total: u64) {
        if !self.loading {
            self.loading = true;
            self.bar.set_length(total);
            self.bar.set_style(
                ProgressStyle::with_template(
                    "loading [{bar:40}] {pos}/{len} rows ({per_sec}, {eta} left)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            self.bar.reset_elapsed();
        }
        self.bar.set_position(done);
    }

    fn indexing(&mut self, columns: &[String]) {
        let elapsed = self.bar.elapsed().as_secs_f64();
        let rows = self.bar.position();
        if elapsed > 0.0 {
            self.bar.println(format!(
                "loaded {rows} rows in {elapsed:.2}s ({:.0} rows/s)",
                rows as f64 / elapsed
            ));
        }
        self.bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        self.bar
            .set_message(format!("indexing {}", columns.join(", ")));
    }
}
