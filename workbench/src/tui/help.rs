//! The key list of each screen, shown by `?` and in the footer. The list here is the one the
//! keymap (`keys`) implements; a test checks that every key listed does something.

use super::app::{Mode, Screen};
use super::i18n::Lang;

/// A key and what it does, in English, Dutch and French.
pub struct Binding {
    pub keys: &'static str,
    pub en: &'static str,
    pub nl: &'static str,
    pub fr: &'static str,
}

impl Binding {
    pub fn text(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::Nl => self.nl,
            Lang::Fr => self.fr,
        }
    }
}

const fn b(keys: &'static str, en: &'static str, nl: &'static str, fr: &'static str) -> Binding {
    Binding { keys, en, nl, fr }
}

const COMMON: &[Binding] = &[
    b(
        "1-4 [ ]",
        "go to a screen",
        "naar een scherm",
        "aller à un écran",
    ),
    b(
        "Tab S-Tab",
        "next / previous pane",
        "volgend / vorig paneel",
        "panneau suivant / précédent",
    ),
    b("↑↓ j k", "move", "bewegen", "se déplacer"),
    b(
        "g G PgUp PgDn",
        "top, bottom, page",
        "begin, einde, pagina",
        "début, fin, page",
    ),
    b(
        "Esc",
        "close / cancel running work",
        "sluiten / lopend werk annuleren",
        "fermer / annuler le calcul",
    ),
    b(
        "L",
        "language (nl, fr, en)",
        "taal (nl, fr, en)",
        "langue (nl, fr, en)",
    ),
    b("?", "this help", "deze hulp", "cette aide"),
    b(
        "q Ctrl-C",
        "quit (asks if work is running)",
        "stoppen (vraagt als er werk loopt)",
        "quitter (demande si un calcul tourne)",
    ),
];

const COHORT: &[Binding] = &[
    b(
        "Space",
        "switch the rule on / off",
        "regel aan / uit",
        "activer / désactiver la règle",
    ),
    b(
        "e Enter",
        "edit the rule or the entry window",
        "regel of instroomperiode wijzigen",
        "modifier la règle ou la période d'entrée",
    ),
    b(
        "+ -",
        "nudge the rule's number (age, year, washout)",
        "getal van de regel bijstellen",
        "ajuster le nombre de la règle",
    ),
    b(
        "x",
        "include ↔ exclude",
        "insluiten ↔ uitsluiten",
        "inclure ↔ exclure",
    ),
    b(
        "a d",
        "add / delete a rule",
        "regel toevoegen / schrappen",
        "ajouter / supprimer une règle",
    ),
    b(
        "n",
        "start again from the entry event",
        "opnieuw vanaf de instroom",
        "repartir de l'entrée",
    ),
    b(
        "s o",
        "save / open a protocol (TOML)",
        "protocol bewaren / openen (TOML)",
        "enregistrer / ouvrir un protocole (TOML)",
    ),
    b("r", "count again", "opnieuw tellen", "recompter"),
];

const OUTCOMES: &[Binding] = &[
    b(
        "↑↓ (left)",
        "pick the outcome (runs it)",
        "uitkomst kiezen (rekent)",
        "choisir l'issue (la calcule)",
    ),
    b(
        "c Space",
        "cumulative incidence ↔ Kaplan–Meier",
        "cumulatieve incidentie ↔ Kaplan–Meier",
        "incidence cumulée ↔ Kaplan–Meier",
    ),
    b("r", "run again", "opnieuw rekenen", "recalculer"),
];

const MODELS: &[Binding] = &[
    b("↑↓", "pick a field", "veld kiezen", "choisir un champ"),
    b(
        "← → h l",
        "change outcome, groups, model",
        "uitkomst, groepen, model wijzigen",
        "changer issue, groupes, modèle",
    ),
    b(
        "Space",
        "covariate in / out",
        "covariaat aan / uit",
        "covariable oui / non",
    ),
    b(
        "Enter r",
        "run the model",
        "model rekenen",
        "lancer le modèle",
    ),
    b(
        "x",
        "export the run as a results bundle",
        "run exporteren als resultatenbundel",
        "exporter le calcul (paquet de résultats)",
    ),
];

const DASHBOARD: &[Binding] = &[
    b(
        "↑↓",
        "scroll the centres",
        "door de centra scrollen",
        "faire défiler les centres",
    ),
    b("r", "refresh", "vernieuwen", "actualiser"),
];

/// The keys of `screen`: its own, then the common ones.
pub fn bindings(screen: Screen, mode: Mode) -> Vec<&'static Binding> {
    let own: &[Binding] = match screen {
        Screen::Cohort => COHORT,
        Screen::Outcomes => OUTCOMES,
        Screen::Models => MODELS,
        Screen::Dashboard => DASHBOARD,
    };
    own.iter()
        .chain(
            COMMON
                .iter()
                .filter(|b| mode == Mode::Full || !b.keys.starts_with("1-4")),
        )
        .collect()
}

/// The short hint of the footer.
pub fn footer(screen: Screen, lang: Lang) -> String {
    let keys: &[(&str, &str, &str, &str)] = match screen {
        Screen::Cohort => &[
            ("Space", "on/off", "aan/uit", "oui/non"),
            ("e", "edit", "wijzig", "modifier"),
            ("+-", "nudge", "bijstellen", "ajuster"),
            ("s", "save", "bewaar", "enregistrer"),
        ],
        Screen::Outcomes => &[
            ("↑↓", "outcome", "uitkomst", "issue"),
            ("c", "KM/CIF", "KM/CIF", "KM/FIC"),
            ("r", "run", "reken", "calculer"),
        ],
        Screen::Models => &[
            ("←→", "change", "wijzig", "changer"),
            ("Space", "covariate", "covariaat", "covariable"),
            ("Enter", "run", "reken", "calculer"),
            ("x", "export", "exporteer", "exporter"),
        ],
        Screen::Dashboard => &[
            ("↑↓", "centres", "centra", "centres"),
            ("r", "refresh", "vernieuw", "actualiser"),
        ],
    };
    keys.iter()
        .map(|(k, en, nl, fr)| {
            let w = match lang {
                Lang::En => en,
                Lang::Nl => nl,
                Lang::Fr => fr,
            };
            format!("{k} {w}")
        })
        .collect::<Vec<_>>()
        .join("  ")
}
