//! The interface's own words in Dutch, French and English. Code labels (centres, forms,
//! interventions) come from `studies::codes` with their three labels; this table holds only the
//! words of the screens. The language is `--lang`, else the locale (`LC_ALL`, `LC_MESSAGES`,
//! `LANG`), else English.

use studies::codes::Labels;

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    Nl,
    Fr,
    #[default]
    En,
}

impl Lang {
    /// `nl`, `fr` or `en` (also `nl_BE.UTF-8` and the like).
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("nl") || s.starts_with("dutch") {
            Some(Lang::Nl)
        } else if s.starts_with("fr") {
            Some(Lang::Fr)
        } else if s.starts_with("en") || s == "c" || s == "posix" || s.starts_with("c.") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The language of the locale: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set.
    pub fn from_env() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .and_then(|v| Lang::parse(&v))
            .unwrap_or_default()
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The next language (the `L` key cycles through them).
    pub fn next(self) -> Lang {
        match self {
            Lang::En => Lang::Nl,
            Lang::Nl => Lang::Fr,
            Lang::Fr => Lang::En,
        }
    }

    /// A code list's label in this language.
    pub fn label(self, l: &Labels) -> &'static str {
        match self {
            Lang::Nl => l.nl,
            Lang::Fr => l.fr,
            Lang::En => l.en,
        }
    }

    /// One word or phrase of the interface.
    pub fn t(self, w: W) -> &'static str {
        let (en, nl, fr) = words(w);
        match self {
            Lang::En => en,
            Lang::Nl => nl,
            Lang::Fr => fr,
        }
    }
}

/// The words of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum W {
    Cohort,
    Outcomes,
    Models,
    Dashboard,
    Help,
    Rules,
    Attrition,
    Children,
    Episodes,
    Removed,
    Entry,
    CohortSize,
    Off,
    Exclude,
    Include,
    Running,
    Cancelled,
    HelpHint,
    QuitConfirm,
    SavedTo,
    LoadedFrom,
    Outcome,
    Group,
    AtRisk,
    Median,
    Days,
    CifAt,
    SurvivalAt,
    CumulativeIncidence,
    KaplanMeier,
    HazardRatio,
    PValue,
    PhTest,
    Rmst,
    NotRun,
    Weighting,
    Covariates,
    Model,
    Reports,
    UniqueChildren,
    TimeToSafety,
    Recurrence12,
    RecoveryRate,
    Community,
    Centre,
    EntryYear,
    Total,
    GateNote,
    NoResults,
    PressRun,
    Diagnostics,
    Groups,
    Store,
    Release,
    Keys,
    Close,
    Trend,
    AttritionTime,
    SavePrompt,
    OpenPrompt,
    EditPrompt,
    AddPrompt,
    ExportPrompt,
    NotAvailable,
    Notes,
    Concordance,
    Difference,
    NoCurve,
    Working,
    Yes,
    No,
    Estimator,
    Time,
    Terms,
    Events,
    Warning,
    ManagerOnly,
}

fn words(w: W) -> (&'static str, &'static str, &'static str) {
    match w {
        W::Cohort => ("Cohort", "Cohort", "Cohorte"),
        W::Outcomes => ("Outcomes", "Uitkomsten", "Issues"),
        W::Models => ("Models", "Modellen", "Modèles"),
        W::Dashboard => ("Dashboard", "Dashboard", "Tableau de bord"),
        W::Help => ("Help", "Hulp", "Aide"),
        W::Rules => ("Rules", "Regels", "Règles"),
        W::Attrition => ("Attrition", "Uitval", "Attrition"),
        W::Children => ("children", "kinderen", "enfants"),
        W::Episodes => ("episodes", "episodes", "épisodes"),
        W::Removed => ("removed", "weg", "retirés"),
        W::Entry => ("entry", "instroom", "entrée"),
        W::CohortSize => ("Cohort size", "Grootte cohort", "Taille de la cohorte"),
        W::Off => ("off", "uit", "désactivée"),
        W::Exclude => ("exclude", "uitsluiten", "exclure"),
        W::Include => ("include", "insluiten", "inclure"),
        W::Running => ("running", "bezig", "en cours"),
        W::Cancelled => ("cancelled", "geannuleerd", "annulé"),
        W::HelpHint => ("? help  q quit", "? hulp  q stoppen", "? aide  q quitter"),
        W::QuitConfirm => (
            "Work is running. Quit anyway? (y/n)",
            "Er loopt nog werk. Toch stoppen? (j/n)",
            "Un calcul est en cours. Quitter quand même ? (o/n)",
        ),
        W::SavedTo => ("saved to", "bewaard in", "enregistré dans"),
        W::LoadedFrom => ("opened", "geopend", "ouvert"),
        W::Outcome => ("Outcome", "Uitkomst", "Issue"),
        W::Group => ("group", "groep", "groupe"),
        W::AtRisk => ("at risk", "at risk", "à risque"),
        W::Median => ("median", "mediaan", "médiane"),
        W::Days => ("days", "dagen", "jours"),
        W::CifAt => ("CIF at", "CIF op", "FIC à"),
        W::SurvivalAt => ("S(t) at", "S(t) op", "S(t) à"),
        W::CumulativeIncidence => (
            "cumulative incidence (Aalen–Johansen)",
            "cumulatieve incidentie (Aalen–Johansen)",
            "incidence cumulée (Aalen–Johansen)",
        ),
        W::KaplanMeier => (
            "Kaplan–Meier (competing events censored)",
            "Kaplan–Meier (concurrerende gebeurtenissen gecensureerd)",
            "Kaplan–Meier (événements concurrents censurés)",
        ),
        W::HazardRatio => ("HR", "HR", "HR"),
        W::PValue => ("p", "p", "p"),
        W::PhTest => (
            "proportional hazards (cox.zph)",
            "proportionele hazards (cox.zph)",
            "risques proportionnels (cox.zph)",
        ),
        W::Rmst => (
            "restricted mean event-free time",
            "beperkte gemiddelde tijd zonder gebeurtenis",
            "temps moyen restreint sans événement",
        ),
        W::NotRun => ("not run", "niet uitgevoerd", "non exécuté"),
        W::Weighting => (
            "Propensity weighting (IPTW) / matching / balance",
            "Propensity-weging (IPTW) / matching / balans",
            "Pondération (IPTW) / appariement / équilibre",
        ),
        W::Covariates => ("Covariates", "Covariaten", "Covariables"),
        W::Model => ("Model", "Model", "Modèle"),
        W::Reports => ("reports", "meldingen", "signalements"),
        W::UniqueChildren => ("unique children", "unieke kinderen", "enfants uniques"),
        W::TimeToSafety => (
            "median days to safety",
            "mediaan dagen tot veiligheid",
            "jours médians jusqu'à la sécurité",
        ),
        W::Recurrence12 => (
            "12-month recurrence",
            "herhaling binnen 12 maanden",
            "récidive à 12 mois",
        ),
        W::RecoveryRate => ("recovery rate", "herstel", "taux de rétablissement"),
        W::Community => ("community", "gemeenschap", "communauté"),
        W::Centre => ("centre", "centrum", "centre"),
        W::EntryYear => ("entry year", "jaar instroom", "année d'entrée"),
        W::Total => ("total", "totaal", "total"),
        W::GateNote => (
            "counts under k shown as <k; x hides a count that would reveal one",
            "aantallen onder k als <k; x verbergt een aantal dat er een zou verraden",
            "effectifs sous k affichés <k ; x masque un effectif qui en révélerait un",
        ),
        W::NoResults => (
            "no results yet",
            "nog geen resultaten",
            "pas encore de résultats",
        ),
        W::PressRun => (
            "press r to run",
            "druk r om te starten",
            "appuyez sur r pour lancer",
        ),
        W::Diagnostics => ("Diagnostics", "Diagnostiek", "Diagnostics"),
        W::Groups => ("Groups", "Groepen", "Groupes"),
        W::Store => ("store", "databank", "base"),
        W::Release => ("release", "release", "version"),
        W::Keys => ("Keys", "Toetsen", "Touches"),
        W::Close => ("Esc or ? closes", "Esc of ? sluit", "Échap ou ? ferme"),
        W::Trend => ("trend", "verloop", "tendance"),
        W::AttritionTime => ("counted in", "geteld in", "compté en"),
        W::SavePrompt => (
            "Save protocol as (TOML file): ",
            "Protocol bewaren als (TOML-bestand): ",
            "Enregistrer le protocole sous (fichier TOML) : ",
        ),
        W::OpenPrompt => (
            "Open protocol (TOML file): ",
            "Protocol openen (TOML-bestand): ",
            "Ouvrir le protocole (fichier TOML) : ",
        ),
        W::EditPrompt => ("Edit: ", "Wijzigen: ", "Modifier : "),
        W::AddPrompt => (
            "New rule (criterion = …, name = \"…\" optional): ",
            "Nieuwe regel (criterium = …, name = \"…\" optioneel): ",
            "Nouvelle règle (critère = …, name = \"…\" facultatif) : ",
        ),
        W::ExportPrompt => (
            "Export results bundle to folder: ",
            "Resultatenbundel exporteren naar map: ",
            "Exporter le paquet de résultats dans le dossier : ",
        ),
        W::NotAvailable => (
            "choose IPTW or PS matching as the model (two groups, some covariates)",
            "kies IPTW of PS-matching als model (twee groepen, enkele covariaten)",
            "choisissez IPTW ou l'appariement comme modèle (deux groupes, des covariables)",
        ),
        W::Notes => ("Notes", "Opmerkingen", "Remarques"),
        W::Concordance => ("concordance", "concordantie", "concordance"),
        W::Difference => ("difference", "verschil", "différence"),
        W::NoCurve => (
            "no curve for this outcome (not a time-to-event outcome, or the gate withheld it)",
            "geen curve voor deze uitkomst (geen tijd-tot-gebeurtenis, of door de drempel achtergehouden)",
            "pas de courbe pour cette issue (pas un délai, ou retenue par le seuil)",
        ),
        W::Working => ("working", "bezig", "calcul"),
        W::Yes => ("y", "j", "o"),
        W::No => ("n", "n", "n"),
        W::Estimator => ("estimator", "schatter", "estimateur"),
        W::Time => ("time", "tijd", "temps"),
        W::Terms => ("term", "term", "terme"),
        W::Events => ("events", "gebeurtenissen", "événements"),
        W::Warning => ("warning", "waarschuwing", "attention"),
        W::ManagerOnly => (
            "aggregates only: every number passed the disclosure gate",
            "enkel totalen: elk getal ging door de onthullingsdrempel",
            "agrégats seulement : chaque nombre a passé le seuil de divulgation",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locales() {
        assert_eq!(Lang::parse("nl_BE.UTF-8"), Some(Lang::Nl));
        assert_eq!(Lang::parse("fr_BE"), Some(Lang::Fr));
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("C.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::parse("de_DE"), None);
    }

    #[test]
    fn every_word_exists_in_every_language() {
        for lang in [Lang::Nl, Lang::Fr, Lang::En] {
            assert!(!lang.t(W::Cohort).is_empty());
            assert!(!lang.t(W::ManagerOnly).is_empty());
        }
        assert_eq!(Lang::Nl.t(W::Outcomes), "Uitkomsten");
        assert_eq!(Lang::Fr.next(), Lang::En);
    }
}
