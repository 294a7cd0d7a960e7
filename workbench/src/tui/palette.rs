//! The palette: Okabe–Ito colours for data series (distinguishable with the common forms of
//! colour blindness) and the terminal's own foreground and background for text, so every screen
//! reads on light and dark terminals alike. Selection is shown by reversing colours, never by
//! colour alone. `NO_COLOR` turns colour off altogether.

use ratatui::style::{Color, Modifier, Style};

/// Okabe–Ito: blue, orange, bluish green, vermillion, reddish purple, sky blue. Yellow is left
/// out: it disappears on a light background.
const SERIES: [Color; 6] = [
    Color::Rgb(0, 114, 178),
    Color::Rgb(230, 159, 0),
    Color::Rgb(0, 158, 115),
    Color::Rgb(213, 94, 0),
    Color::Rgb(204, 121, 167),
    Color::Rgb(86, 180, 233),
];

/// The styles of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub colour: bool,
}

impl Default for Palette {
    fn default() -> Self {
        Palette { colour: true }
    }
}

impl Palette {
    /// Colour unless `NO_COLOR` is set (https://no-color.org).
    pub fn from_env() -> Palette {
        Palette {
            colour: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    /// The colour of data series `i`.
    pub fn series(&self, i: usize) -> Style {
        if self.colour {
            Style::new().fg(SERIES[i % SERIES.len()])
        } else {
            Style::new()
        }
    }

    /// Plain text in the terminal's colours.
    pub fn text(&self) -> Style {
        Style::new()
    }

    /// Secondary text: dimmed, not greyed (grey is unreadable on some light themes).
    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// Titles and headers.
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected line: reversed, so it shows on any background.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The border of the focused pane.
    pub fn focus(&self) -> Style {
        if self.colour {
            Style::new().fg(SERIES[0]).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    /// A warning (vermillion and bold; the word "warning" carries it too).
    pub fn warn(&self) -> Style {
        if self.colour {
            Style::new().fg(SERIES[3]).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    /// A count or estimate withheld by the disclosure gate.
    pub fn suppressed(&self) -> Style {
        Style::new().add_modifier(Modifier::ITALIC)
    }

    /// A bar of the attrition waterfall.
    pub fn bar(&self) -> Style {
        self.series(0)
    }

    /// The part of a bar a rule removed.
    pub fn bar_removed(&self) -> Style {
        if self.colour {
            self.series(1)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }
}
