//! The real code lists shipped with the schema: centres, forms, contexts, referral sources,
//! intervention types and instruments, each labelled in Dutch, French and English.

/// Labels in the three languages of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels {
    pub nl: &'static str,
    pub fr: &'static str,
    pub en: &'static str,
}

const fn l(nl: &'static str, fr: &'static str, en: &'static str) -> Labels {
    Labels { nl, fr, en }
}

/// A VK or an SOS Enfants team.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Centre {
    pub id: &'static str,
    /// `VK` or `SOS_ENFANTS`.
    pub service_type: &'static str,
    /// `VL` (Flemish Community) or `FWB` (Fédération Wallonie-Bruxelles).
    pub community: &'static str,
    /// `VLA`, `WAL` or `BRU`.
    pub region: &'static str,
    /// NIS province code; none in Brussels.
    pub province_code: Option<&'static str>,
    pub source_system: &'static str,
    /// Relative size within its community (VK: 2016 MaNo table; SOS: equal).
    pub weight: f64,
    pub is_small_unit: bool,
    pub labels: Labels,
}

const fn vk(
    id: &'static str,
    region: &'static str,
    prov: Option<&'static str>,
    weight: f64,
    name: &'static str,
) -> Centre {
    Centre {
        id,
        service_type: "VK",
        community: "VL",
        region,
        province_code: prov,
        source_system: "VK_EDOSSIER",
        weight,
        is_small_unit: false,
        labels: l(name, name, name),
    }
}
const fn sos(
    id: &'static str,
    region: &'static str,
    prov: Option<&'static str>,
    name: &'static str,
) -> Centre {
    Centre {
        id,
        service_type: "SOS_ENFANTS",
        community: "FWB",
        region,
        province_code: prov,
        source_system: "THOPAS",
        weight: 1.0 / 15.0,
        is_small_unit: true,
        labels: l(name, name, name),
    }
}

/// The six VKs (domain.md §2.1) and the fifteen SOS Enfants teams, 3 in Brussels and 12 in
/// Wallonia (§2.2; the full team list is not published, so names beyond the documented ones are
/// the teams' usual catchment names).
pub const CENTRES: &[Centre] = &[
    vk("VK_ANT", "VLA", Some("10000"), 0.23, "VK Antwerpen"),
    vk("VK_LIM", "VLA", Some("70000"), 0.20, "VK Limburg"),
    vk("VK_OVL", "VLA", Some("40000"), 0.20, "VK Oost-Vlaanderen"),
    vk("VK_VLB", "VLA", Some("20001"), 0.17, "VK Vlaams-Brabant"),
    vk("VK_WVL", "VLA", Some("30000"), 0.11, "VK West-Vlaanderen"),
    vk("VK_BRU", "BRU", None, 0.09, "VK Brussel"),
    sos("SOS_BXL_ULB", "BRU", None, "SOS Enfants ULB Saint-Pierre"),
    sos("SOS_BXL_HUDERF", "BRU", None, "SOS Enfants HUDERF"),
    sos(
        "SOS_BXL_STLUC",
        "BRU",
        None,
        "SOS Enfants Saint-Luc (UCLouvain)",
    ),
    sos("SOS_BW", "WAL", Some("20002"), "SOS Enfants Brabant wallon"),
    sos(
        "SOS_LIEGE_CHC",
        "WAL",
        Some("60000"),
        "SOS Enfants CHC Liège",
    ),
    sos("SOS_LIEGE", "WAL", Some("60000"), "SOS Enfants Liège"),
    sos(
        "SOS_VERVIERS",
        "WAL",
        Some("60000"),
        "SOS Enfants-Parents Verviers",
    ),
    sos("SOS_HUY", "WAL", Some("60000"), "SOS Enfants Huy"),
    sos(
        "SOS_CHARLEROI",
        "WAL",
        Some("50000"),
        "Aide et prévention enfants-parents Charleroi",
    ),
    sos(
        "SOS_MONS",
        "WAL",
        Some("50000"),
        "SOS Enfants Mons-Borinage",
    ),
    sos(
        "SOS_CENTRE",
        "WAL",
        Some("50000"),
        "SOS Enfants Centre (La Louvière)",
    ),
    sos(
        "SOS_TOURNAI",
        "WAL",
        Some("50000"),
        "SOS Parents-Enfants Mouscron-Tournai",
    ),
    sos("SOS_NAMUR", "WAL", Some("90000"), "SOS Enfants Namur"),
    sos("SOS_DINANT", "WAL", Some("90000"), "SAILFE Dinant"),
    sos("SOS_LUX", "WAL", Some("80000"), "SOS Enfants Luxembourg"),
];

/// A form of maltreatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Form {
    pub code: &'static str,
    pub parent: Option<&'static str>,
    pub rare_for_disclosure: bool,
    pub labels: Labels,
}

pub const FORMS: &[Form] = &[
    Form {
        code: "PHYS",
        parent: None,
        rare_for_disclosure: false,
        labels: l(
            "Fysieke mishandeling",
            "Maltraitance physique",
            "Physical abuse",
        ),
    },
    Form {
        code: "SEX",
        parent: None,
        rare_for_disclosure: false,
        labels: l("Seksueel misbruik", "Abus sexuel", "Sexual abuse"),
    },
    Form {
        code: "EMO",
        parent: None,
        rare_for_disclosure: false,
        labels: l(
            "Emotionele mishandeling",
            "Maltraitance psychologique",
            "Emotional abuse",
        ),
    },
    Form {
        code: "NEGL",
        parent: None,
        rare_for_disclosure: false,
        labels: l("Verwaarlozing", "Négligence grave", "Neglect"),
    },
    Form {
        code: "WITNESS_IPV",
        parent: Some("EMO"),
        rare_for_disclosure: false,
        labels: l(
            "Getuige van partnergeweld",
            "Exposition aux violences conjugales",
            "Witnessing partner violence",
        ),
    },
    Form {
        code: "PRENATAL",
        parent: None,
        rare_for_disclosure: true,
        labels: l(
            "Prenatale mishandeling",
            "Maltraitance prénatale",
            "Prenatal maltreatment",
        ),
    },
    Form {
        code: "AHT_SHAKEN",
        parent: Some("PHYS"),
        rare_for_disclosure: true,
        labels: l(
            "Shaken baby / toegebracht hoofdletsel",
            "Bébé secoué",
            "Abusive head trauma (shaken infant)",
        ),
    },
    Form {
        code: "INSTITUTIONAL",
        parent: None,
        rare_for_disclosure: true,
        labels: l(
            "Institutioneel misbruik",
            "Maltraitance institutionnelle",
            "Institutional abuse",
        ),
    },
    Form {
        code: "RISK_SITUATION",
        parent: None,
        rare_for_disclosure: false,
        labels: l(
            "Algemene risicosituatie",
            "Situation à risque",
            "General risk situation",
        ),
    },
    Form {
        code: "OTHER",
        parent: None,
        rare_for_disclosure: false,
        labels: l("Andere", "Autre", "Other"),
    },
];

/// A context recorded on an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub code: &'static str,
    pub rare_for_disclosure: bool,
    pub labels: Labels,
}

pub const CONTEXTS: &[Context] = &[
    Context {
        code: "HIGH_CONFLICT_DIVORCE",
        rare_for_disclosure: false,
        labels: l(
            "Vechtscheiding",
            "Séparation hautement conflictuelle",
            "High-conflict divorce",
        ),
    },
    Context {
        code: "REFUGEE_CHILD",
        rare_for_disclosure: true,
        labels: l("Kind op de vlucht", "Enfant réfugié", "Refugee child"),
    },
    Context {
        code: "CAREGIVER_CONVICTED_OR_DETAINED",
        rare_for_disclosure: true,
        labels: l(
            "Opvoeder veroordeeld of gedetineerd",
            "Parent condamné ou détenu",
            "Caregiver convicted or detained",
        ),
    },
    Context {
        code: "PARENT_MENTAL_ILLNESS",
        rare_for_disclosure: false,
        labels: l(
            "Psychische problemen ouder",
            "Troubles psychiques du parent",
            "Parental mental illness",
        ),
    },
    Context {
        code: "PARENT_SUBSTANCE",
        rare_for_disclosure: false,
        labels: l(
            "Middelengebruik ouder",
            "Assuétudes du parent",
            "Parental substance use",
        ),
    },
    Context {
        code: "PARTNER_VIOLENCE",
        rare_for_disclosure: false,
        labels: l("Partnergeweld", "Violences conjugales", "Partner violence"),
    },
    Context {
        code: "POVERTY",
        rare_for_disclosure: false,
        labels: l("Armoede", "Précarité", "Poverty"),
    },
    Context {
        code: "DISABILITY_CHILD",
        rare_for_disclosure: false,
        labels: l(
            "Kind met een beperking",
            "Enfant en situation de handicap",
            "Child with a disability",
        ),
    },
    Context {
        code: "RESIDENTIAL",
        rare_for_disclosure: true,
        labels: l(
            "Residentiële voorziening",
            "Institution résidentielle",
            "Residential setting",
        ),
    },
    Context {
        code: "SCHOOL",
        rare_for_disclosure: false,
        labels: l("School", "École", "School"),
    },
];

/// A referral source with its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferralSource {
    pub code: &'static str,
    pub group: &'static str,
    pub labels: Labels,
}

pub const REFERRAL_SOURCES: &[ReferralSource] = &[
    ReferralSource {
        code: "CHAT_NUPRAATIKEROVER",
        group: "HELPLINE_CHAT",
        labels: l(
            "Chat nupraatikerover.be",
            "Chat nupraatikerover.be",
            "Chat nupraatikerover.be",
        ),
    },
    ReferralSource {
        code: "HELPLINE_1712",
        group: "HELPLINE_CHAT",
        labels: l("Hulplijn 1712", "Ligne d'écoute 1712", "Helpline 1712"),
    },
    ReferralSource {
        code: "PRO_ADULT_MH_KINDREFLEX",
        group: "PROFESSIONAL",
        labels: l(
            "Volwassenenhulp (Kindreflex)",
            "Aide aux adultes (Kindreflex)",
            "Adult mental health (Kindreflex)",
        ),
    },
    ReferralSource {
        code: "CHILDCARE",
        group: "PROFESSIONAL",
        labels: l("Kinderopvang", "Accueil de la petite enfance", "Childcare"),
    },
    ReferralSource {
        code: "SCHOOL_CLB",
        group: "PROFESSIONAL",
        labels: l("School / CLB", "École / PMS", "School / pupil guidance"),
    },
    ReferralSource {
        code: "HEALTH_HOSPITAL",
        group: "PROFESSIONAL",
        labels: l("Ziekenhuis", "Hôpital", "Hospital"),
    },
    ReferralSource {
        code: "HEALTH_GP",
        group: "PROFESSIONAL",
        labels: l("Huisarts", "Médecin généraliste", "General practitioner"),
    },
    ReferralSource {
        code: "WELFARE_CAW",
        group: "PROFESSIONAL",
        labels: l("Welzijn (CAW)", "Aide sociale", "Welfare services"),
    },
    ReferralSource {
        code: "POLICE",
        group: "JUSTICE",
        labels: l("Politie", "Police", "Police"),
    },
    ReferralSource {
        code: "PARQUET_YOUTH",
        group: "JUSTICE",
        labels: l("Jeugdparket", "Parquet de la jeunesse", "Youth prosecutor"),
    },
    ReferralSource {
        code: "SAJ",
        group: "JUSTICE",
        labels: l(
            "SAJ (conseiller)",
            "SAJ (conseiller)",
            "SAJ (youth-aid counsellor)",
        ),
    },
    ReferralSource {
        code: "SPJ",
        group: "JUSTICE",
        labels: l(
            "SPJ (directeur)",
            "SPJ (directeur)",
            "SPJ (youth-aid director)",
        ),
    },
    ReferralSource {
        code: "FAMILY",
        group: "CITIZEN",
        labels: l("Familie", "Famille", "Family"),
    },
    ReferralSource {
        code: "CHILD_SELF",
        group: "CHILD",
        labels: l("Kind zelf", "L'enfant lui-même", "The child"),
    },
    ReferralSource {
        code: "NEIGHBOUR",
        group: "CITIZEN",
        labels: l(
            "Buren / omgeving",
            "Voisinage",
            "Neighbour / close environment",
        ),
    },
    ReferralSource {
        code: "OTHER",
        group: "CITIZEN",
        labels: l("Andere", "Autre", "Other"),
    },
];

/// An intervention or decision type (domain.md §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterventionType {
    pub code: &'static str,
    pub phase_primary: Option<&'static str>,
    pub is_placement: bool,
    pub is_judicial: bool,
    pub labels: Labels,
}

const fn it(
    code: &'static str,
    phase: &'static str,
    placement: bool,
    judicial: bool,
    labels: Labels,
) -> InterventionType {
    InterventionType {
        code,
        phase_primary: Some(phase),
        is_placement: placement,
        is_judicial: judicial,
        labels,
    }
}

pub const INTERVENTION_TYPES: &[InterventionType] = &[
    it(
        "ADVICE_ONLY",
        "P1_STOP",
        false,
        false,
        l("Advies", "Conseil", "Advice only"),
    ),
    it(
        "VK_ASSESSMENT",
        "P1_STOP",
        false,
        false,
        l("Onderzoek VK", "Évaluation VK", "VK assessment"),
    ),
    it(
        "SOS_BILAN",
        "P1_STOP",
        false,
        false,
        l(
            "Multidisciplinaire bilan",
            "Bilan pluridisciplinaire",
            "Multidisciplinary assessment",
        ),
    ),
    it(
        "COUNSELLING_CHILD",
        "P3_RECOVER",
        false,
        false,
        l(
            "Begeleiding kind",
            "Accompagnement de l'enfant",
            "Counselling of the child",
        ),
    ),
    it(
        "FAMILY_SUPPORT",
        "P2_PREVENT",
        false,
        false,
        l("Gezinsondersteuning", "Soutien familial", "Family support"),
    ),
    it(
        "SAFETY_PLAN",
        "P1_STOP",
        false,
        false,
        l("Veiligheidsplan", "Plan de sécurité", "Safety plan"),
    ),
    it(
        "REFERRAL_IJH",
        "P2_PREVENT",
        false,
        false,
        l(
            "Doorverwijzing integrale jeugdhulp",
            "Orientation vers le réseau",
            "Referral to youth care network",
        ),
    ),
    it(
        "MANO_PROCEDURE",
        "P1_STOP",
        false,
        false,
        l(
            "MaNo-procedure",
            "Procédure MaNo",
            "Societal-necessity procedure",
        ),
    ),
    it(
        "REFERRAL_PROSECUTOR",
        "P1_STOP",
        false,
        true,
        l(
            "Doorverwijzing jeugdparket",
            "Signalement au parquet",
            "Referral to the prosecutor",
        ),
    ),
    it(
        "SAJ_AGREEMENT",
        "P1_STOP",
        false,
        false,
        l("Akkoord SAJ", "Accord SAJ", "SAJ voluntary agreement"),
    ),
    it(
        "SPJ_MEASURE",
        "P1_STOP",
        false,
        true,
        l("Maatregel SPJ", "Mesure SPJ", "SPJ court-ordered measure"),
    ),
    it(
        "OUT_OF_HOME_PLACEMENT",
        "P1_STOP",
        true,
        false,
        l(
            "Uithuisplaatsing",
            "Placement hors du milieu familial",
            "Out-of-home placement",
        ),
    ),
    it(
        "PRENATAL_FOLLOWUP",
        "P2_PREVENT",
        false,
        false,
        l(
            "Prenatale opvolging",
            "Suivi prénatal",
            "Prenatal follow-up",
        ),
    ),
    it(
        "PEER_SUPPORT",
        "P3_RECOVER",
        false,
        false,
        l("Lotgenotencontact", "Groupe de pairs", "Peer support"),
    ),
];

/// A wellbeing instrument with range and cut-offs (domain.md §1.4, §5 phase 3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Instrument {
    pub code: &'static str,
    pub score_name: &'static str,
    pub score_min: f64,
    pub score_max: f64,
    pub higher_is_worse: bool,
    pub borderline_cut: Option<f64>,
    pub clinical_cut: Option<f64>,
    pub reliable_change: Option<f64>,
    pub age_min_months: Option<i64>,
    pub age_max_months: Option<i64>,
    pub informant: &'static str,
    pub labels: Labels,
}

pub const INSTRUMENTS: &[Instrument] = &[
    Instrument {
        code: "SDQ_P",
        score_name: "TOTAL_DIFFICULTIES",
        score_min: 0.0,
        score_max: 40.0,
        higher_is_worse: true,
        borderline_cut: Some(14.0),
        clinical_cut: Some(17.0),
        reliable_change: Some(8.0),
        age_min_months: Some(48),
        age_max_months: Some(215),
        informant: "PARENT",
        labels: l("SDQ ouder", "SDQ parent", "SDQ parent"),
    },
    Instrument {
        code: "SDQ_T",
        score_name: "TOTAL_DIFFICULTIES",
        score_min: 0.0,
        score_max: 40.0,
        higher_is_worse: true,
        borderline_cut: Some(12.0),
        clinical_cut: Some(16.0),
        reliable_change: Some(8.0),
        age_min_months: Some(48),
        age_max_months: Some(215),
        informant: "TEACHER",
        labels: l("SDQ leerkracht", "SDQ enseignant", "SDQ teacher"),
    },
    Instrument {
        code: "SDQ_S",
        score_name: "TOTAL_DIFFICULTIES",
        score_min: 0.0,
        score_max: 40.0,
        higher_is_worse: true,
        borderline_cut: Some(16.0),
        clinical_cut: Some(20.0),
        reliable_change: Some(8.0),
        age_min_months: Some(132),
        age_max_months: Some(215),
        informant: "SELF",
        labels: l(
            "SDQ zelfrapportage",
            "SDQ auto-évaluation",
            "SDQ self-report",
        ),
    },
    Instrument {
        code: "CBCL_1_5",
        score_name: "T_TOTAL",
        score_min: 25.0,
        score_max: 100.0,
        higher_is_worse: true,
        borderline_cut: Some(60.0),
        clinical_cut: Some(64.0),
        reliable_change: Some(7.0),
        age_min_months: Some(18),
        age_max_months: Some(71),
        informant: "PARENT",
        labels: l("CBCL 1½-5", "CBCL 1½-5", "CBCL 1.5-5"),
    },
    Instrument {
        code: "CBCL_6_18",
        score_name: "T_TOTAL",
        score_min: 25.0,
        score_max: 100.0,
        higher_is_worse: true,
        borderline_cut: Some(60.0),
        clinical_cut: Some(64.0),
        reliable_change: Some(7.0),
        age_min_months: Some(72),
        age_max_months: Some(215),
        informant: "PARENT",
        labels: l("CBCL 6-18", "CBCL 6-18", "CBCL 6-18"),
    },
    Instrument {
        code: "TSCYC",
        score_name: "T_PTS_TOTAL",
        score_min: 30.0,
        score_max: 110.0,
        higher_is_worse: true,
        borderline_cut: Some(65.0),
        clinical_cut: Some(70.0),
        reliable_change: Some(10.0),
        age_min_months: Some(36),
        age_max_months: Some(155),
        informant: "CARER",
        labels: l("TSCYC", "TSCYC", "TSCYC"),
    },
    Instrument {
        code: "CRIES13",
        score_name: "TOTAL",
        score_min: 0.0,
        score_max: 65.0,
        higher_is_worse: true,
        borderline_cut: None,
        clinical_cut: Some(30.0),
        reliable_change: Some(12.0),
        age_min_months: Some(96),
        age_max_months: Some(215),
        informant: "SELF",
        labels: l("CRIES-13", "CRIES-13", "CRIES-13"),
    },
    Instrument {
        code: "CATS_7_17",
        score_name: "TOTAL",
        score_min: 0.0,
        score_max: 60.0,
        higher_is_worse: true,
        borderline_cut: Some(15.0),
        clinical_cut: Some(21.0),
        reliable_change: Some(9.0),
        age_min_months: Some(84),
        age_max_months: Some(215),
        informant: "SELF",
        labels: l("CATS 7-17", "CATS 7-17", "CATS 7-17"),
    },
    Instrument {
        code: "CATS_3_6",
        score_name: "TOTAL",
        score_min: 0.0,
        score_max: 48.0,
        higher_is_worse: true,
        borderline_cut: Some(12.0),
        clinical_cut: Some(16.0),
        reliable_change: Some(8.0),
        age_min_months: Some(36),
        age_max_months: Some(83),
        informant: "CARER",
        labels: l("CATS 3-6", "CATS 3-6", "CATS 3-6"),
    },
];

/// Whether `code` is a key of the code list `table` (a code-list table name of the schema).
pub fn is_known(table: &str, code: &str) -> bool {
    codes_of(table).any(|c| c == code)
}

/// The keys of a code-list table, in the order shipped.
pub fn codes_of(table: &str) -> Box<dyn Iterator<Item = &'static str>> {
    match table {
        "centre" => Box::new(CENTRES.iter().map(|c| c.id)),
        "maltreatment_form" => Box::new(FORMS.iter().map(|c| c.code)),
        "context_code" => Box::new(CONTEXTS.iter().map(|c| c.code)),
        "referral_source" => Box::new(REFERRAL_SOURCES.iter().map(|c| c.code)),
        "intervention_type" => Box::new(INTERVENTION_TYPES.iter().map(|c| c.code)),
        "instrument" => Box::new(INSTRUMENTS.iter().map(|c| c.code)),
        _ => Box::new(std::iter::empty()),
    }
}

/// A centre by id.
pub fn centre(id: &str) -> Option<&'static Centre> {
    CENTRES.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_vk_and_fifteen_sos_teams() {
        assert_eq!(CENTRES.iter().filter(|c| c.service_type == "VK").count(), 6);
        let sos: Vec<_> = CENTRES
            .iter()
            .filter(|c| c.service_type == "SOS_ENFANTS")
            .collect();
        assert_eq!(sos.len(), 15);
        assert_eq!(sos.iter().filter(|c| c.region == "BRU").count(), 3);
        let vk_weight: f64 = CENTRES
            .iter()
            .filter(|c| c.service_type == "VK")
            .map(|c| c.weight)
            .sum();
        assert!((vk_weight - 1.0).abs() < 1e-9);
    }

    #[test]
    fn parents_and_code_lists_are_consistent() {
        for f in FORMS {
            if let Some(p) = f.parent {
                assert!(is_known("maltreatment_form", p));
            }
        }
        assert!(is_known("referral_source", "CHAT_NUPRAATIKEROVER"));
        assert!(is_known("referral_source", "HELPLINE_1712"));
        assert!(is_known("referral_source", "PRO_ADULT_MH_KINDREFLEX"));
        for t in crate::schema::code_list_tables() {
            assert!(codes_of(t.name).count() > 0, "{}", t.name);
        }
    }
}
