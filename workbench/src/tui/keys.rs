//! Keys and mouse to actions. Arrows and vim keys move, Tab cycles panes, digits pick a screen,
//! `?` shows every key of the current screen (see `help`), `q` quits.

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};

use super::app::{Action, App, Overlay, Screen};

/// The action of one terminal event, if it has one.
pub fn action(app: &App, event: &Event) -> Option<Action> {
    match event {
        Event::Resize(w, h) => Some(Action::Resize(*w, *h)),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollUp => Some(Action::Up),
            MouseEventKind::ScrollDown => Some(Action::Down),
            MouseEventKind::Down(MouseButton::Left) => Some(Action::Click(m.column, m.row)),
            _ => None,
        },
        Event::Key(k) if k.kind != KeyEventKind::Release => key(app, k),
        _ => None,
    }
}

/// The action of one key press.
pub fn key(app: &App, k: &KeyEvent) -> Option<Action> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(k.code, KeyCode::Char('c')) {
        return Some(Action::ForceQuit);
    }
    match &app.overlay {
        Overlay::Prompt(_) => {
            return match k.code {
                KeyCode::Char(c) if !ctrl => Some(Action::Input(c)),
                KeyCode::Backspace => Some(Action::Backspace),
                KeyCode::Enter => Some(Action::Submit),
                KeyCode::Esc => Some(Action::Escape),
                _ => None,
            };
        }
        Overlay::ConfirmQuit => {
            return match k.code {
                KeyCode::Char('y' | 'Y' | 'j' | 'J' | 'o' | 'O' | 'q') | KeyCode::Enter => {
                    Some(Action::Confirm(true))
                }
                KeyCode::Char('n' | 'N') | KeyCode::Esc => Some(Action::Confirm(false)),
                _ => None,
            };
        }
        Overlay::Help => {
            return match k.code {
                KeyCode::Esc | KeyCode::Char('?' | 'q') | KeyCode::Enter => {
                    Some(Action::ToggleHelp)
                }
                _ => None,
            };
        }
        Overlay::None => {}
    }
    if ctrl {
        return match k.code {
            KeyCode::Char('u') => Some(Action::PageUp),
            KeyCode::Char('d') => Some(Action::PageDown),
            _ => None,
        };
    }
    let screen = app.screen;
    Some(match k.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Esc => Action::Escape,
        KeyCode::Char('?') | KeyCode::F(1) => Action::ToggleHelp,
        KeyCode::Tab => Action::NextPane,
        KeyCode::BackTab => Action::PrevPane,
        KeyCode::Char(d @ '1'..='4') => {
            let i = (d as u8 - b'1') as usize;
            Action::GoTo(*app.screens().get(i)?)
        }
        KeyCode::Char(']') => Action::NextScreen,
        KeyCode::Char('[') => Action::PrevScreen,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Left | KeyCode::Char('h') => Action::Left,
        KeyCode::Right | KeyCode::Char('l') => Action::Right,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Char(' ') => Action::Toggle,
        KeyCode::Enter => Action::Submit,
        KeyCode::Char('r') => Action::Run,
        KeyCode::Char('L') => Action::CycleLang,
        KeyCode::Char('e') if screen == Screen::Cohort => Action::Edit,
        KeyCode::Char('x') if screen == Screen::Cohort => Action::ToggleExclude,
        KeyCode::Char('x') if screen == Screen::Models => Action::Export,
        KeyCode::Char('+' | '=') if screen == Screen::Cohort => Action::Nudge(1),
        KeyCode::Char('-') if screen == Screen::Cohort => Action::Nudge(-1),
        KeyCode::Char('a') if screen == Screen::Cohort => Action::AddRule,
        KeyCode::Char('d') if screen == Screen::Cohort => Action::DeleteRule,
        KeyCode::Char('n') if screen == Screen::Cohort => Action::NewFromEntry,
        KeyCode::Char('s') if screen == Screen::Cohort => Action::Save,
        KeyCode::Char('o') if screen == Screen::Cohort => Action::Open,
        KeyCode::Char('c') if screen == Screen::Outcomes => Action::SwitchCurve,
        _ => return None,
    })
}
