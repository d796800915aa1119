//! The pages' languages: Korean by default, English for visitors who prefer it.
//!
//! Every text a page shows comes from the Fluent files under `locales/<lang>/`, embedded at
//! compile time. The language is the visitor's choice (the footer's switch, kept in the
//! `lang` cookie), or else the best of ours in the browser's `Accept-Language`, or else Korean.
//! The API's JSON is the same in every language.
//!
//! Lookups go through [`Lang::t`], [`Lang::t1`], [`Lang::t2`] and [`Lang::t3`] (and the same
//! methods on the pages' `Chrome`) with the key written out, so the test below can find every
//! key the templates and the page code use and check both languages have it.

use super::PageError;
use super::session::{Visitor, redirect};
use crate::errors::AppError;
use crate::ids::Timestamp;
use crate::taxonomy::{Category, Priority, Role, Status};
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use chrono::FixedOffset;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, langid};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{OnceLock, PoisonError, RwLock};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "ko",
        // No Unicode isolation marks around arguments: the pages' text is plain HTML text,
        // and the marks would show up in copied text and break tests' substring checks.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The cookie that keeps the visitor's choice.
pub const LANG_COOKIE: &str = "lang";
/// How long the choice is kept: a year.
const LANG_COOKIE_DAYS: i64 = 365;

static KO: LanguageIdentifier = langid!("ko");
static EN: LanguageIdentifier = langid!("en");

/// A language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ko,
    En,
}

/// A value put into a text: a number or a piece of text.
pub trait Arg {
    fn value(&self) -> FluentValue<'static>;
}

macro_rules! number_arg {
    ($($t:ty),+) => {$(
        impl Arg for $t {
            fn value(&self) -> FluentValue<'static> {
                FluentValue::from(*self)
            }
        }
    )+};
}
number_arg!(i32, i64, u32, u64, usize);

impl Arg for str {
    fn value(&self) -> FluentValue<'static> {
        FluentValue::from(self.to_owned())
    }
}

impl Arg for String {
    fn value(&self) -> FluentValue<'static> {
        FluentValue::from(self.clone())
    }
}

impl<T: Arg + ?Sized> Arg for &T {
    fn value(&self) -> FluentValue<'static> {
        (**self).value()
    }
}

/// A value of one of the product's vocabularies, shown by its label (`status-pending` ...).
pub trait Labelled {
    /// The vocabulary's key prefix.
    const PREFIX: &'static str;
    fn text(&self) -> &'static str;
}

macro_rules! labelled {
    ($($t:ty => $prefix:literal),+) => {$(
        impl Labelled for $t {
            const PREFIX: &'static str = $prefix;
            fn text(&self) -> &'static str {
                self.as_str()
            }
        }
    )+};
}
labelled!(Status => "status", Category => "category", Priority => "priority", Role => "role");

impl<T: Labelled> Labelled for &T {
    const PREFIX: &'static str = T::PREFIX;
    fn text(&self) -> &'static str {
        (**self).text()
    }
}

impl Lang {
    /// Every language, in the order the switch lists them.
    pub const ALL: &'static [Lang] = &[Lang::Ko, Lang::En];

    /// The language's code (`<html lang>`, the cookie, the switch's form).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::Ko => &KO,
            Lang::En => &EN,
        }
    }

    /// The language a code names (`ko`, `en`, `en-US`...), if the pages speak it.
    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next().unwrap_or_default();
        Lang::ALL
            .iter()
            .copied()
            .find(|lang| primary.eq_ignore_ascii_case(lang.code()))
    }

    /// The language of ours the browser prefers most (`Accept-Language`, with q-values);
    /// Korean when it names none of ours.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(Lang, f32)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let mut quality = 1.0_f32;
            for param in parts {
                if let Some((name, value)) = param.split_once('=')
                    && name.trim().eq_ignore_ascii_case("q")
                {
                    // A malformed q-value counts as "not acceptable".
                    quality = value.trim().parse().unwrap_or(0.0);
                }
            }
            if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
                best = Some((lang, quality));
            }
        }
        best.map_or(Lang::default(), |(lang, _)| lang)
    }

    /// The visitor's language: the `lang` cookie, else `Accept-Language`, else Korean.
    pub fn of_request(req: &HttpRequest) -> Lang {
        if let Some(lang) = req
            .cookie(LANG_COOKIE)
            .and_then(|c| Lang::ALL.iter().copied().find(|l| l.code() == c.value()))
        {
            return lang;
        }
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map_or(Lang::default(), Lang::from_accept_language)
    }

    /// The text `key` in this language.
    pub fn t(self, key: &str) -> String {
        self.lookup(key, &[])
    }

    /// The text `key` with one argument.
    pub fn t1(self, key: &str, name: &str, value: impl Arg) -> String {
        self.lookup(key, &[(name, value.value())])
    }

    /// The text `key` with two arguments.
    pub fn t2(self, key: &str, n1: &str, v1: impl Arg, n2: &str, v2: impl Arg) -> String {
        self.lookup(key, &[(n1, v1.value()), (n2, v2.value())])
    }

    /// The text `key` with three arguments.
    #[allow(clippy::too_many_arguments)]
    pub fn t3(
        self,
        key: &str,
        n1: &str,
        v1: impl Arg,
        n2: &str,
        v2: impl Arg,
        n3: &str,
        v3: impl Arg,
    ) -> String {
        self.lookup(key, &[(n1, v1.value()), (n2, v2.value()), (n3, v3.value())])
    }

    /// A vocabulary value's label: 대기중 / Pending, 전기 / Electrical, 관리자 / Admin...
    pub fn label(self, value: impl Labelled) -> String {
        self.lookup(&label_key(&value), &[])
    }

    /// The language's own name, as the switch shows it (한국어, English).
    pub fn name(self) -> String {
        self.t("language-name")
    }

    /// A moment on the residents' clock (Korea Standard Time), as this language writes it.
    pub fn datetime(self, at: Timestamp) -> String {
        let format = self.t("format-datetime");
        let local = match FixedOffset::east_opt(9 * 3600) {
            Some(offset) => at.0.with_timezone(&offset).fixed_offset(),
            None => at.0.fixed_offset(),
        };
        let mut out = String::new();
        // A format the locale file got wrong writes nothing rather than panicking.
        match write!(out, "{}", local.format(&format)) {
            Ok(()) => out,
            Err(_) => local.format("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// The text `key` with `args`; Korean when this language lacks it, and the key itself
    /// (logged) when both do, so a page never fails for a missing text.
    fn lookup(self, key: &str, args: &[(&str, FluentValue<'static>)]) -> String {
        // A text with no argument or numbers alone is the same every time: formatted once.
        // Texts with text arguments (names, descriptions) are not kept.
        let memo_key = args
            .iter()
            .all(|(_, v)| matches!(v, FluentValue::Number(_)))
            .then(|| memo_key(self, key, args));
        if let Some(memo_key) = &memo_key
            && let Some(text) = memo()
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(memo_key)
        {
            return text.clone();
        }
        let (text, found) = self.format(key, args);
        // A missing text is not kept: it is logged each time it is shown.
        if let Some(memo_key) = memo_key.filter(|_| found) {
            let mut memo = memo().write().unwrap_or_else(PoisonError::into_inner);
            if memo.len() >= MEMO_TEXTS {
                memo.clear();
            }
            memo.insert(memo_key, text.clone());
        }
        text
    }

    /// `key` formatted by Fluent, in this language or else in Korean, and whether this
    /// language has it.
    fn format(self, key: &str, args: &[(&str, FluentValue<'static>)]) -> (String, bool) {
        let map: HashMap<&str, FluentValue<'static>> =
            args.iter().map(|(n, v)| (*n, v.clone())).collect();
        let args = (!map.is_empty()).then_some(&map);
        for lang in [self, Lang::Ko] {
            match LOCALES.lookup_single_language(lang.id(), key, args) {
                Ok(text) => return (text, lang == self),
                Err(error) => {
                    tracing::error!(key, lang = lang.code(), %error, "a page text is missing")
                }
            }
            if lang == Lang::Ko {
                break;
            }
        }
        (key.to_owned(), false)
    }
}

/// How many formatted texts [`Lang::lookup`] keeps before it starts again: every key in
/// both languages, and the counts and ids shown lately.
const MEMO_TEXTS: usize = 8_192;

fn memo() -> &'static RwLock<HashMap<String, String>> {
    static MEMO: OnceLock<RwLock<HashMap<String, String>>> = OnceLock::new();
    MEMO.get_or_init(Default::default)
}

/// The language, the key and each number, apart: keys are words and dashes.
fn memo_key(lang: Lang, key: &str, args: &[(&str, FluentValue<'static>)]) -> String {
    let mut out = format!("{} {key}", lang.code());
    for (name, value) in args {
        if let FluentValue::Number(n) = value {
            let _ = write!(out, " {name}={}", n.as_string());
        }
    }
    out
}

fn label_key<T: Labelled>(value: &T) -> String {
    format!("{}-{}", T::PREFIX, value.text())
}

/// The building's name on the pages: `SITE_NAME` as the operator wrote it, in every language;
/// unset, the built-in name in the visitor's language.
pub fn site_name(lang: Lang, configured: &str) -> String {
    if configured == crate::config::DEFAULT_SITE_NAME {
        lang.t("site-name-default")
    } else {
        configured.to_owned()
    }
}

/// The emergency line: `EMERGENCY_TEXT` as the operator wrote it, in every language; unset,
/// the built-in line in the visitor's language.
pub fn emergency_text(lang: Lang, configured: &str) -> String {
    if configured == crate::config::DEFAULT_EMERGENCY_TEXT {
        lang.t("emergency-default")
    } else {
        configured.to_owned()
    }
}

/// The cookie keeping `lang` for a year (not HttpOnly: it holds nothing secret).
pub fn lang_cookie(lang: Lang, secure: bool) -> Cookie<'static> {
    Cookie::build(LANG_COOKIE, lang.code())
        .path("/")
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(LANG_COOKIE_DAYS))
        .finish()
}

/// The footer's language switch.
#[derive(Deserialize)]
pub struct LanguageForm {
    csrf_token: String,
    lang: String,
}

/// The page the switch was pressed on, from the browser's `Referer` (sent for same-origin
/// requests under the pages' `Referrer-Policy: same-origin`): a local path of this site only.
fn page_before(req: &HttpRequest) -> Option<String> {
    let referer = req.headers().get(header::REFERER)?.to_str().ok()?;
    let origin = crate::auth::origin::own_origin(req);
    let (head, path) = (referer.get(..origin.len())?, referer.get(origin.len()..)?);
    if !head.eq_ignore_ascii_case(&origin) {
        return None;
    }
    let path = path.split('#').next().unwrap_or_default();
    super::safe_next(Some(path))
}

/// `POST /language`: keeps the choice in the cookie and goes back to the page it came from.
pub async fn switch(
    req: HttpRequest,
    visitor: Visitor,
    form: super::form::PageForm<LanguageForm>,
) -> Result<HttpResponse, PageError> {
    super::check_csrf(&visitor, &form.csrf_token)?;
    let lang = Lang::ALL
        .iter()
        .copied()
        .find(|l| l.code() == form.lang)
        .ok_or_else(|| AppError::unprocessable(format!("unknown language '{}'", form.lang)))?;
    let to = page_before(&req).unwrap_or_else(|| "/".to_owned());
    let mut response = redirect(&to, None);
    response
        .add_cookie(&lang_cookie(lang, visitor.secure))
        .map_err(AppError::internal)?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// A text formatted once reads as Fluent formats it, counts included, and the texts
    /// kept stay bounded; a missing one is not kept (it is logged each time).
    #[test]
    fn remembered_texts_are_fluent_s_and_bounded() {
        for n in 0..(MEMO_TEXTS as u64 + 100) {
            let args = [("count", FluentValue::from(n))];
            let shown = Lang::Ko.t1("chart-day-count", "count", n);
            assert_eq!(shown, Lang::Ko.format("chart-day-count", &args).0);
            assert_eq!(
                shown,
                Lang::Ko.t1("chart-day-count", "count", n),
                "remembered"
            );
            assert!(memo().read().unwrap().len() <= MEMO_TEXTS);
        }
        assert_eq!(
            Lang::En.t("site-name-default"),
            Lang::En.format("site-name-default", &[]).0
        );
        assert_eq!(Lang::En.t("no-such-text"), "no-such-text");
        let kept = memo()
            .read()
            .unwrap()
            .contains_key(&memo_key(Lang::En, "no-such-text", &[]));
        assert!(!kept);
    }

    #[test]
    fn the_browser_preference_picks_the_language() {
        for (header, expected) in [
            ("en-US,en;q=0.9,ko;q=0.8", Lang::En),
            ("en", Lang::En),
            ("EN-gb", Lang::En),
            ("ko", Lang::Ko),
            ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", Lang::Ko),
            ("ko;q=0.5, en;q=0.8", Lang::En),
            ("fr-FR,fr;q=0.9", Lang::Ko),
            ("fr,en;q=0.5", Lang::En),
            ("en;q=0, ko;q=0.1", Lang::Ko),
            ("en;q=abc", Lang::Ko),
            ("*", Lang::Ko),
            ("", Lang::Ko),
            ("en;q=0.5,ko;q=0.5", Lang::En),
        ] {
            assert_eq!(Lang::from_accept_language(header), expected, "{header:?}");
        }
    }

    /// The messages of one language: key → the variables its text uses.
    fn messages(lang: &str) -> BTreeMap<String, BTreeSet<String>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut found = BTreeMap::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no .ftl files in {}", dir.display());
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let mut current: Option<String> = None;
            for line in text.lines() {
                let starts_entry = line.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
                if starts_entry {
                    let (key, _) = line
                        .split_once('=')
                        .unwrap_or_else(|| panic!("{}: {line}", file.display()));
                    let key = key.trim().to_owned();
                    assert!(
                        found.insert(key.clone(), BTreeSet::new()).is_none(),
                        "{lang}: {key} is defined twice"
                    );
                    current = Some(key);
                } else if !line.starts_with([' ', '\t']) {
                    // A comment, a blank line or a term ends the message.
                    current = None;
                    continue;
                }
                if let Some(key) = &current {
                    let vars = found.get_mut(key).unwrap();
                    for (i, _) in line.match_indices('$') {
                        let name: String = line[i + 1..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                            .collect();
                        vars.insert(name);
                    }
                }
            }
        }
        found
    }

    #[test]
    fn both_languages_have_every_message_with_the_same_arguments() {
        let ko = messages("ko");
        let en = messages("en");
        let only_ko: Vec<_> = ko.keys().filter(|k| !en.contains_key(*k)).collect();
        let only_en: Vec<_> = en.keys().filter(|k| !ko.contains_key(*k)).collect();
        assert!(only_ko.is_empty(), "missing in locales/en: {only_ko:?}");
        assert!(only_en.is_empty(), "missing in locales/ko: {only_en:?}");
        for (key, vars) in &ko {
            assert_eq!(
                vars, &en[key],
                "{key} takes different arguments in ko and en"
            );
        }
        // Every message formats without errors in both languages (the files parse, each
        // argument given).
        for lang in Lang::ALL {
            for (key, vars) in &ko {
                let args: HashMap<&str, FluentValue> = vars
                    .iter()
                    .map(|v| (v.as_str(), FluentValue::from(2)))
                    .collect();
                let args = (!args.is_empty()).then_some(&args);
                if let Err(e) = LOCALES.lookup_single_language(lang.id(), key, args) {
                    panic!("{key} in {}: {e}", lang.code());
                }
            }
        }
    }

    /// Files under `dir` whose name ends with `ext`.
    fn files(dir: &Path, ext: &str, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, ext, found);
            } else if path.extension().is_some_and(|e| e == ext) {
                found.push(path);
            }
        }
    }

    /// The keys in `.t("key"`, `.t1("key"`... calls in `text`.
    fn keys_used(text: &str) -> Vec<String> {
        let mut keys = Vec::new();
        for call in [".t(\"", ".t1(\"", ".t2(\"", ".t3(\""] {
            for (i, _) in text.match_indices(call) {
                let rest = &text[i + call.len()..];
                if let Some(end) = rest.find('"') {
                    keys.push(rest[..end].to_owned());
                }
            }
        }
        keys
    }

    #[test]
    fn every_text_the_pages_use_exists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        files(&root.join("templates"), "html", &mut sources);
        files(&root.join("src/web"), "rs", &mut sources);
        // The reset link's mail, written in the language of the visitor who asked.
        sources.push(root.join("src/auth/reset.rs"));
        let known = messages("ko");
        let mut missing = Vec::new();
        let mut used = 0;
        for file in &sources {
            let text = std::fs::read_to_string(file).unwrap();
            // Tests may look up keys that do not exist on purpose.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for key in keys_used(text) {
                used += 1;
                if !known.contains_key(&key) {
                    missing.push(format!("{}: {key}", file.display()));
                }
            }
        }
        assert!(used > 100, "the scan found only {used} lookups");
        assert!(
            missing.is_empty(),
            "texts missing in locales/ko: {missing:?}"
        );
        // The labels, looked up by their value's text form.
        let mut labels: Vec<String> = Vec::new();
        labels.extend(Status::ALL.iter().map(label_key));
        labels.extend(Category::ALL.iter().map(label_key));
        labels.extend(Priority::ALL.iter().map(label_key));
        labels.extend(Role::ALL.iter().map(label_key));
        for key in labels {
            assert!(
                known.contains_key(&key),
                "label {key} missing in locales/ko"
            );
        }
    }

    #[test]
    fn labels_and_texts_follow_the_language() {
        assert_eq!(Lang::Ko.label(Category::Electrical), "전기");
        assert_eq!(Lang::En.label(Category::Electrical), "Electrical");
        assert_eq!(Lang::Ko.label(Priority::High), "높음");
        assert_eq!(Lang::En.label(Priority::High), "High");
        assert_eq!(Lang::Ko.label(Status::Pending), "대기중");
        assert_eq!(Lang::En.label(Status::Pending), "Pending");
        assert_eq!(Lang::En.label(Role::SuperAdmin), "Super admin");
        assert_eq!(Lang::Ko.name(), "한국어");
        assert_eq!(Lang::En.name(), "English");
        // An unknown key is shown as itself, never a failed page.
        assert_eq!(Lang::En.t("no-such-text"), "no-such-text");
        // Arguments go in without isolation marks.
        assert_eq!(Lang::En.t1("request-title", "id", 7), "Request #7");
        assert_eq!(Lang::Ko.t1("request-title", "id", 7), "요청 #7");
    }

    #[test]
    fn dates_are_written_as_each_language_writes_them() {
        let at = Timestamp(
            chrono::DateTime::parse_from_rfc3339("2026-11-03T05:07:00Z")
                .unwrap()
                .to_utc(),
        );
        assert_eq!(Lang::Ko.datetime(at), "2026-11-03 14:07");
        assert_eq!(Lang::En.datetime(at), "Nov 3, 2026, 14:07");
    }
}
