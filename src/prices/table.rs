//! [`PriceTable`]: every listed model's price, found by name, failing closed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::clock::Clock;

use crate::prices::compact::{CompactTable, NameEntry};
use crate::prices::error::PriceError;
use crate::prices::litellm::PriceFile;
use crate::prices::model_price::ModelPrice;
use crate::prices::overrides::Overrides;
use crate::prices::resale;
use crate::prices::resolve::{self, Candidate, Resolution, Resolved};
use crate::prices::version::PriceTableVersion;

/// LiteLLM's prices as bundled (see `pricing/README.md`); the table ships
/// them compact, and the tests check the two agree.
#[cfg(test)]
const BUNDLED_PRICES: &str = include_str!("../../pricing/litellm_prices.json");

/// What a name in the table points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A listed price, by position in `prices`.
    Listed(usize),
    /// Another name for the listed price at that position.
    Alias(usize),
}

/// Model prices by name: LiteLLM's list with provider corrections, plus
/// whatever prices and aliases you add.
///
/// Lookups fail closed: a name that matches nothing is an
/// [`PriceError::UnknownModel`] with suggestions, never a price of $0,
/// unless you opt in to a fallback price with [`PriceTable::with_fallback`].
///
/// ```
/// use spendguard::{PriceTable, Usage, Usd};
/// use spendguard::prices::{ModelPrice, Rates, Resolution};
/// use spendguard::money::PricePerToken;
///
/// // The bundled table is opened once per process and shared; each price
/// // is decoded the first time it is asked for.
/// let bundled = PriceTable::bundled();
/// let sonnet = bundled.resolve("claude-sonnet-4-5-20250929")?;
/// assert!(sonnet.is_exact());
///
/// // Customise an owned copy: a negotiated price and an Azure deployment name.
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// let mut table = PriceTable::clone(&bundled);
/// table.insert(ModelPrice::new("my-llama", Rates::new(per_m(0.10), per_m(0.30))));
/// table.alias("prod-4o", "azure/gpt-4o")?;
/// let found = table.resolve("prod-4o")?;
/// assert_eq!(found.listed_id(), "azure/gpt-4o");
/// assert_eq!(found.steps(), [Resolution::Alias { alias: "prod-4o".into() }]);
/// assert_eq!(table.resolve("my-llama")?.price().cost(&Usage::new(1_000_000, 0)), Usd::from_cents(10));
/// # Ok::<(), spendguard::prices::PriceError>(())
/// ```
#[derive(Clone, Default)]
pub struct PriceTable {
    prices: Vec<Arc<ModelPrice>>,
    /// Every listed id and alias, as written.
    exact: HashMap<Box<str>, Slot>,
    /// Lower-cased names to the spelling `exact` holds.
    folded: HashMap<Box<str>, Box<str>>,
    /// The bundled prices, read where they lie until the table is changed
    /// (then they move into the three fields above, which stay empty till
    /// then).
    compact: Option<CompactTable>,
    fallback: Option<Arc<ModelPrice>>,
    version: PriceTableVersion,
}

impl PriceTable {
    /// A table with no prices.
    pub fn new() -> Self {
        PriceTable::default()
    }

    /// The bundled prices with the bundled provider corrections applied,
    /// opened on first use and shared by every caller in the process.
    ///
    /// They ship in a compact form made from LiteLLM's file by
    /// [`PriceTable::from_litellm_json_with_overrides`]: opening it reads no
    /// price (well under a millisecond), and each price is decoded the first
    /// time a name resolves to it, so a process pays for the models it
    /// uses. Call [`PriceTable::warm`] to pay for all of them up front.
    pub fn bundled() -> Arc<PriceTable> {
        static BUNDLED: OnceLock<Arc<PriceTable>> = OnceLock::new();
        let table = BUNDLED.get_or_init(|| {
            let compact = CompactTable::bundled();
            let version = PriceTableVersion::bundled(compact.checked());
            Arc::new(PriceTable {
                compact: Some(compact),
                version,
                ..PriceTable::default()
            })
        });
        Arc::clone(table)
    }

    /// Decodes every price now, so that no later lookup does: for a
    /// process that prefers a predictable first call to a small start-up.
    /// A table loaded from JSON is decoded already.
    ///
    /// ```
    /// use spendguard::PriceTable;
    ///
    /// let prices = PriceTable::bundled();
    /// prices.warm();
    /// assert!(prices.resolve("gpt-4o").is_ok());
    /// ```
    pub fn warm(&self) {
        if let Some(compact) = &self.compact {
            compact.prices().for_each(drop);
        }
    }

    /// Reads a LiteLLM price file (`model_prices_and_context_window.json`)
    /// as it is, without spendguard's provider corrections. Its
    /// [`version`](PriceTable::version) is "custom" until you name it with
    /// [`PriceTable::with_version`].
    ///
    /// Entries of modes other than chat, responses, completion and embedding,
    /// and entries with no price per token, are skipped rather than refused:
    /// the file prices images, audio and search as well.
    ///
    /// # Errors
    /// [`PriceError::MalformedJson`] with the line and column when the text is
    /// not a JSON object; [`PriceError::InvalidEntry`] or
    /// [`PriceError::InvalidField`] naming the model, the field and the value
    /// of the first entry that cannot be read.
    pub fn from_litellm_json(json: &str) -> Result<Self, PriceError> {
        PriceFile::parse(json).map(PriceTable::from_file)
    }

    /// Reads a LiteLLM price file, adds the models of `overrides`'
    /// additions and applies its corrections, as [`PriceTable::bundled`]
    /// does with the bundled ones.
    ///
    /// # Errors
    /// As [`PriceTable::from_litellm_json`], and
    /// [`PriceError::InvalidOverride`] when an override names a model the file
    /// does not price; [`PriceError::InvalidAddition`] when an addition adds
    /// one it already prices.
    pub fn from_litellm_json_with_overrides(
        json: &str,
        overrides: &Overrides,
    ) -> Result<Self, PriceError> {
        let mut file = PriceFile::parse(json)?;
        overrides.apply(&mut file)?;
        Ok(PriceTable::from_file(file))
    }

    fn from_file(file: PriceFile) -> Self {
        let mut table = PriceTable {
            prices: Vec::with_capacity(file.entries.len()),
            exact: HashMap::with_capacity(file.entries.len() + file.aliases.len()),
            folded: HashMap::with_capacity(file.entries.len() + file.aliases.len()),
            compact: None,
            fallback: None,
            version: PriceTableVersion::custom(),
        };
        for (model, entry) in &file.entries {
            table.insert(entry.model_price(model));
        }
        for (alias, target) in file.aliases {
            if let Some(&Slot::Listed(position)) = table.exact.get(target.as_str()) {
                table.add_name(alias.into_boxed_str(), Slot::Alias(position));
            }
        }
        table
    }

    /// Adds a price, replacing the listed price of the same id (and any
    /// alias of that name): for negotiated, self-hosted or corrected prices.
    /// Aliases of the id then price at the new price too.
    ///
    /// Returns the price it replaced.
    pub fn insert(&mut self, price: ModelPrice) -> Option<Arc<ModelPrice>> {
        self.unpack();
        let price = Arc::new(price);
        match self.exact.get(price.model()) {
            Some(&Slot::Listed(position)) => {
                Some(std::mem::replace(&mut self.prices[position], price))
            }
            _ => {
                let name: Box<str> = price.model().into();
                self.prices.push(price);
                self.add_name(name, Slot::Listed(self.prices.len() - 1));
                None
            }
        }
    }

    /// Makes `name` another name for a listed id (or for what an alias
    /// names), for names a provider does not publish: Azure deployment names,
    /// gateway routes, internal nicknames. An alias wins over a listed id of
    /// the same name.
    ///
    /// # Errors
    /// [`PriceError::UnknownModel`] when `listed_id` is neither a listed id
    /// nor an alias (compared case-insensitively, without other rewrites).
    pub fn alias(&mut self, name: impl Into<String>, listed_id: &str) -> Result<(), PriceError> {
        self.unpack();
        let target = self
            .slot(listed_id)
            .map(|(_, slot, _)| match slot {
                Slot::Listed(position) | Slot::Alias(position) => position,
            })
            .ok_or_else(|| self.unknown(listed_id))?;
        self.add_name(name.into().into_boxed_str(), Slot::Alias(target));
        Ok(())
    }

    /// The same table, pricing every name that matches nothing at `price`
    /// instead of failing. The answer says [`Resolution::Fallback`], so it
    /// can still be logged or refused.
    pub fn with_fallback(mut self, price: ModelPrice) -> Self {
        self.fallback = Some(Arc::new(price));
        self
    }

    /// The same table, under another name and date: for a table you load
    /// yourself, so receipts and ledger lines say which prices they used.
    pub fn with_version(mut self, version: PriceTableVersion) -> Self {
        self.version = version;
        self
    }

    /// Which data this table holds: for the bundled one, the LiteLLM
    /// release, its download date and the overrides' newest checked date;
    /// otherwise what [`PriceTable::with_version`] set, or "custom".
    pub fn version(&self) -> &PriceTableVersion {
        &self.version
    }

    /// `true` when the table's prices were retrieved more than `age` before
    /// `clock`'s now (never for a table with no retrieval date).
    pub fn is_older_than(&self, age: Duration, clock: &dyn Clock) -> bool {
        self.version.is_older_than(age, clock)
    }

    /// As [`PriceTable::is_older_than`], and, with feature `tracing`, a
    /// `WARN` event on target `spendguard::prices` when it is: an opt-in
    /// reminder to update the bundled prices (call it once at start-up).
    ///
    /// ```
    /// use std::time::Duration;
    /// use spendguard::clock::SystemClock;
    /// use spendguard::PriceTable;
    ///
    /// let ninety_days = Duration::from_secs(90 * 86_400);
    /// if PriceTable::bundled().warn_if_older_than(ninety_days, &SystemClock) {
    ///     // The prices may be out of date: update spendguard, or load a newer file.
    /// }
    /// ```
    pub fn warn_if_older_than(&self, age: Duration, clock: &dyn Clock) -> bool {
        let old = self.is_older_than(age, clock);
        #[cfg(feature = "tracing")]
        if old {
            let days = self
                .version
                .age(clock)
                .map_or(0, |age| age.as_secs() / 86_400);
            tracing::warn!(
                target: "spendguard::prices",
                version = %self.version,
                age_days = days,
                "the price table ({}) is {days} days old; prices may have changed since",
                self.version
            );
        }
        old
    }

    /// The fallback price, if one was set.
    pub fn fallback(&self) -> Option<&Arc<ModelPrice>> {
        self.fallback.as_ref()
    }

    /// The price listed under exactly `listed_id`, with no rewriting and no
    /// aliases.
    pub fn get(&self, listed_id: &str) -> Option<&Arc<ModelPrice>> {
        if let Some(compact) = &self.compact {
            let entry = compact.name(listed_id).filter(|entry| !entry.alias)?;
            return Some(compact.price(entry));
        }
        match self.exact.get(listed_id)? {
            Slot::Listed(position) => self.prices.get(*position),
            Slot::Alias(_) => None,
        }
    }

    /// Finds the price of a model name as callers write it, and says how.
    ///
    /// Tried in order, first match wins (every comparison is exact first,
    /// then case-insensitive):
    ///
    /// 1. the name as written, including aliases;
    /// 2. the name with a provider prefix removed (`openai/gpt-4o` →
    ///    `gpt-4o`), accepted only when the listed entry is sold by that
    ///    provider; `models/gemini-x` (the Gemini API's resource name) tries
    ///    `gemini/gemini-x`, then `gemini-x`;
    /// 3. for a name without a prefix, the name with a model maker's prefix
    ///    added (`grok-4` → `xai/grok-4`): openai, anthropic, gemini, xai,
    ///    mistral, deepseek, cohere, moonshot, zai, minimax, dashscope, in
    ///    that order. Clouds and resellers are never guessed;
    /// 4. steps 1 to 3 again with an unlisted snapshot suffix removed
    ///    (`-2025-08-07`, `-20250929`, `@20250929`, `-latest`);
    /// 5. for a closed-weight model a gateway resells at the maker's own
    ///    price, the maker's spelling, through steps 1 to 4:
    ///    `openrouter/anthropic/claude-sonnet-4.5` and
    ///    `anthropic/claude-sonnet-4.5` (OpenRouter's own name) →
    ///    `claude-sonnet-4-5`, `x-ai/grok-4.3` → `xai/grok-4.3`,
    ///    `google/gemini-2.5-pro` → `gemini/gemini-2.5-pro`; open-weight
    ///    models, served by many hosts at many prices, are never priced so;
    /// 6. the fallback price, if the table has one.
    ///
    /// A listed snapshot is always found as itself in step 1, so the most
    /// specific listed entry wins. Bedrock ids (`anthropic.claude-…-v1:0`,
    /// and regional `us.`, `eu.`, `apac.`, `global.` ones) are found when
    /// the list has them; an unlisted regional id is not priced as another
    /// region, because regional prices differ.
    ///
    /// An exact match costs one hash lookup and one reference-count
    /// increment, and allocates nothing.
    ///
    /// # Errors
    /// [`PriceError::UnknownModel`] with up to three close listed ids when
    /// nothing matched and there is no fallback.
    pub fn resolve(&self, model: &str) -> Result<Resolved, PriceError> {
        self.lookup(model).ok_or_else(|| self.unknown(model))
    }

    /// `true` when [`PriceTable::resolve`] would price `model`, found
    /// without building the error's suggestions: for checking a list of
    /// configured model names at start-up, or measuring coverage.
    ///
    /// ```
    /// use spendguard::PriceTable;
    ///
    /// let table = PriceTable::bundled();
    /// assert!(table.can_price("openrouter/anthropic/claude-sonnet-4.5"));
    /// assert!(!table.can_price("my-private-finetune"));
    /// ```
    pub fn can_price(&self, model: &str) -> bool {
        self.lookup(model).is_some()
    }

    /// The steps of [`PriceTable::resolve`], without the error.
    fn lookup(&self, model: &str) -> Option<Resolved> {
        if let Some(found) = self.find(model, Vec::new(), None) {
            return Some(found);
        }
        if let Some(found) = self.find_rewritten(model, &[]) {
            return Some(found);
        }
        if let Some(spelling) = resale::maker_spelling(model) {
            let found = self
                .find(&spelling.name, spelling.steps.clone(), None)
                .or_else(|| self.find_rewritten(&spelling.name, &spelling.steps));
            if found.is_some() {
                return found;
            }
        }
        self.fallback.as_ref().map(|price| {
            Resolved::new(
                Arc::clone(price),
                vec![Resolution::Fallback],
                self.version.clone(),
            )
        })
    }

    /// How many prices are listed (aliases not counted).
    pub fn len(&self) -> usize {
        match &self.compact {
            Some(compact) => compact.len(),
            None => self.prices.len(),
        }
    }

    /// `true` when no price is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every listed price: LiteLLM's in id order, then added ones in the
    /// order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ModelPrice>> {
        let prices: Vec<&Arc<ModelPrice>> = match &self.compact {
            Some(compact) => compact.prices().collect(),
            None => self.prices.iter().collect(),
        };
        prices.into_iter()
    }

    /// Moves the compact bundled prices into the maps a table can change.
    fn unpack(&mut self) {
        let Some(compact) = self.compact.take() else {
            return;
        };
        self.prices = compact.prices().cloned().collect();
        for entry in compact.names() {
            self.exact.insert(entry.name.into(), slot_of(entry));
        }
        for (lower, name) in compact.folded_names() {
            self.folded.insert(lower.into(), name.into());
        }
    }

    /// The first of `name`'s rewritten spellings (provider prefix, snapshot)
    /// that is listed, with `before` ahead of the rewrite steps.
    fn find_rewritten(&self, name: &str, before: &[Resolution]) -> Option<Resolved> {
        resolve::candidates(name).find_map(
            |Candidate {
                 name,
                 steps,
                 sellers,
             }| {
                let steps = before.iter().cloned().chain(steps).collect();
                self.find(&name, steps, sellers)
            },
        )
    }

    /// Looks `name` up exactly, then case-insensitively, and checks the
    /// seller if the name lost a provider prefix.
    fn find(
        &self,
        name: &str,
        mut steps: Vec<Resolution>,
        sellers: Option<&[&str]>,
    ) -> Option<Resolved> {
        let (listed_name, slot, price) = self.slot(name)?;
        if sellers.is_some_and(|sellers| !resolve::sold_by(sellers, price.provider())) {
            return None;
        }
        if listed_name != name {
            steps.push(Resolution::CaseFolded);
        }
        if let Slot::Alias(_) = slot {
            steps.push(Resolution::Alias {
                alias: listed_name.to_owned(),
            });
        }
        Some(Resolved::new(
            Arc::clone(price),
            steps,
            self.version.clone(),
        ))
    }

    /// The name as the table holds it, what it points at, and its price.
    fn slot(&self, name: &str) -> Option<(&str, Slot, &Arc<ModelPrice>)> {
        if let Some(compact) = &self.compact {
            let entry = compact.entry(name)?;
            return Some((entry.name, slot_of(entry), compact.price(entry)));
        }
        let (listed, slot) = match self.exact.get_key_value(name) {
            Some((listed, slot)) => (listed, *slot),
            None => {
                let listed = self.folded.get(name.to_ascii_lowercase().as_str())?;
                let (listed, slot) = self.exact.get_key_value(listed)?;
                (listed, *slot)
            }
        };
        let (Slot::Listed(position) | Slot::Alias(position)) = slot;
        Some((listed, slot, &self.prices[position]))
    }

    fn add_name(&mut self, name: Box<str>, slot: Slot) {
        self.folded
            .insert(name.to_ascii_lowercase().into_boxed_str(), name.clone());
        self.exact.insert(name, slot);
    }

    fn unknown(&self, model: &str) -> PriceError {
        PriceError::UnknownModel {
            model: model.to_owned(),
            suggestions: match &self.compact {
                Some(compact) => {
                    resolve::suggestions(model, compact.names().map(|entry| entry.name))
                }
                None => resolve::suggestions(model, self.exact.keys().map(|name| &**name)),
            },
        }
    }
}

/// The slot a compact name entry stands for.
fn slot_of(entry: NameEntry<'_>) -> Slot {
    if entry.alias {
        Slot::Alias(entry.position)
    } else {
        Slot::Listed(entry.position)
    }
}

impl fmt::Debug for PriceTable {
    /// A summary: the table holds thousands of prices.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriceTable")
            .field("prices", &self.len())
            .field(
                "names",
                &self
                    .compact
                    .as_ref()
                    .map_or(self.exact.len(), |compact| compact.names().count()),
            )
            .field(
                "fallback",
                &self.fallback.as_ref().map(|price| price.model()),
            )
            .field("version", &self.version.label())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::PricePerToken;
    use crate::prices::rates::Rates;

    fn price(model: &str, provider: &str, input: f64) -> ModelPrice {
        let per_m = |d| PricePerToken::per_million(d).unwrap();
        ModelPrice::new(model, Rates::new(per_m(input), per_m(input * 4.0))).with_provider(provider)
    }

    fn table() -> PriceTable {
        let mut table = PriceTable::new();
        table.insert(price("gpt-4o", "openai", 2.5));
        table.insert(price("gpt-4o-2024-08-06", "openai", 2.5));
        table.insert(price("azure/gpt-4o", "azure", 2.75));
        table.insert(price("xai/grok-4", "xai", 3.0));
        table.insert(price("gemini/gemini-2.5-pro", "gemini", 1.25));
        table.insert(price("gemini-2.5-flash", "vertex_ai-language-models", 0.3));
        table.insert(price("llama-3", "together_ai", 0.2));
        table
    }

    /// The table read from the bundled JSON by the ordinary loader.
    fn from_json() -> PriceTable {
        let overrides = Overrides::bundled();
        PriceTable::from_litellm_json_with_overrides(BUNDLED_PRICES, &overrides)
            .unwrap()
            .with_version(PriceTableVersion::bundled(overrides.latest_checked()))
    }

    /// `table`'s compact form, as `pricing/litellm_compact.txt` holds it.
    fn compact_form(table: &PriceTable) -> String {
        let names: Vec<(&str, bool, usize)> = table
            .exact
            .iter()
            .map(|(name, slot)| match *slot {
                Slot::Listed(position) => (&**name, false, position),
                Slot::Alias(position) => (&**name, true, position),
            })
            .collect();
        let folded: Vec<(&str, &str)> = table
            .folded
            .iter()
            .map(|(lower, name)| (&**lower, &**name))
            .collect();
        let checked = Overrides::bundled().latest_checked().map(str::to_owned);
        crate::prices::compact::encode(checked.as_deref(), &names, &folded, &table.prices).unwrap()
    }

    #[test]
    fn the_compact_table_says_what_the_json_says() {
        let json = from_json();
        let compact = compact_form(&json);
        if std::env::var_os("SPENDGUARD_WRITE_COMPACT_PRICES").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/pricing/litellm_compact.txt");
            std::fs::write(path, &compact).unwrap();
            return;
        }
        assert!(
            compact == include_str!("../../pricing/litellm_compact.txt"),
            "pricing/litellm_compact.txt is out of date: write it anew with \
             `SPENDGUARD_WRITE_COMPACT_PRICES=1 cargo test --lib prices::table`"
        );
        let bundled = PriceTable::bundled();
        assert_eq!(bundled.version(), json.version());
        assert_eq!(bundled.len(), json.len());
        assert!(
            bundled.iter().eq(json.iter()),
            "every price decodes as it was written"
        );
        for name in json.exact.keys() {
            for asked in [name.to_string(), name.to_ascii_uppercase()] {
                assert_eq!(bundled.resolve(&asked), json.resolve(&asked), "{asked}");
                assert_eq!(bundled.get(&asked), json.get(&asked), "{asked}");
            }
        }
        for unknown in [
            "openai/gpt-4o-2031-01-01",
            "my-private-finetune",
            "GPT-4O-MINI-LATEST",
        ] {
            assert_eq!(bundled.resolve(unknown), json.resolve(unknown), "{unknown}");
        }
    }

    #[test]
    fn a_changed_bundled_table_is_unpacked_first() {
        let mut table = PriceTable::clone(&PriceTable::bundled());
        let before = table.len();
        table.alias("prod-4o", "gpt-4o").unwrap();
        let replaced = table.insert(price("gpt-4o", "openai", 9.0)).unwrap();
        assert_eq!(replaced.model(), "gpt-4o");
        assert_eq!(table.len(), before);
        assert_eq!(table.resolve("prod-4o").unwrap().price().model(), "gpt-4o");
        assert_eq!(
            table.resolve("PROD-4O").unwrap().price(),
            table.get("gpt-4o").unwrap()
        );
        assert_ne!(
            PriceTable::bundled().get("gpt-4o"),
            table.get("gpt-4o"),
            "the shared table is untouched"
        );
    }

    fn resolved(table: &PriceTable, name: &str) -> (String, Vec<Resolution>) {
        let found = table.resolve(name).unwrap();
        (found.listed_id().to_owned(), found.steps().to_vec())
    }

    #[test]
    fn exact_names_resolve_exactly() {
        let (id, steps) = resolved(&table(), "gpt-4o-2024-08-06");
        assert_eq!(id, "gpt-4o-2024-08-06");
        assert_eq!(steps, [Resolution::Exact]);
    }

    #[test]
    fn a_removed_prefix_must_name_the_seller() {
        assert_eq!(resolved(&table(), "openai/gpt-4o").0, "gpt-4o");
        // llama-3 is listed, but sold by together_ai, not openai.
        assert!(table().resolve("openai/llama-3").is_err());
        assert_eq!(
            resolved(&table(), "models/gemini-2.5-flash").0,
            "gemini-2.5-flash"
        );
    }

    #[test]
    fn case_folding_is_reported_after_other_steps() {
        let (id, steps) = resolved(&table(), "OpenAI/GPT-4o");
        assert_eq!(id, "gpt-4o");
        assert_eq!(
            steps,
            [
                Resolution::ProviderPrefixRemoved {
                    prefix: "OpenAI/".into()
                },
                Resolution::CaseFolded
            ]
        );
    }

    #[test]
    fn insert_replaces_and_aliases_follow() {
        let mut table = table();
        table.alias("my-deployment", "azure/gpt-4o").unwrap();
        let replaced = table.insert(price("azure/gpt-4o", "azure", 2.0));
        assert_eq!(
            replaced.unwrap().standard().base().input,
            PricePerToken::per_million(2.75).unwrap()
        );
        let found = table.resolve("My-Deployment").unwrap();
        assert_eq!(
            found.price().standard().base().input,
            PricePerToken::per_million(2.0).unwrap()
        );
        assert_eq!(
            found.steps(),
            [
                Resolution::CaseFolded,
                Resolution::Alias {
                    alias: "my-deployment".into()
                }
            ]
        );
        assert_eq!(table.len(), 7);
    }

    #[test]
    fn an_alias_shadows_a_listed_id_of_the_same_name() {
        let mut table = table();
        table.alias("gpt-4o", "azure/gpt-4o").unwrap();
        assert_eq!(resolved(&table, "gpt-4o").0, "azure/gpt-4o");
        assert!(table.get("gpt-4o").is_none());
    }

    #[test]
    fn aliases_must_name_a_listed_id() {
        let error = table().alias("x", "gpt-4p").unwrap_err();
        assert!(matches!(
            error,
            PriceError::UnknownModel { ref suggestions, .. } if suggestions[0] == "gpt-4o"
        ));
    }

    #[test]
    fn unknown_models_fail_unless_a_fallback_is_set() {
        assert!(matches!(
            table().resolve("mystery-model"),
            Err(PriceError::UnknownModel { .. })
        ));
        let table = table().with_fallback(price("fallback", "", 30.0));
        let found = table.resolve("mystery-model").unwrap();
        assert!(found.is_fallback());
        assert_eq!(found.listed_id(), "fallback");
    }

    #[test]
    fn debug_is_a_summary() {
        assert_eq!(
            format!("{:?}", table()),
            "PriceTable { prices: 7, names: 7, fallback: None, version: \"custom\" }"
        );
    }
}
