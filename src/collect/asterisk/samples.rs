//! Values the host samples on its own thread because no event carries them: version, uptime, last reload, active and
//! processed calls, and the codec/transcoding picture of live channels. The codec sample is collected between a begin
//! and an end call and published whole, so a scrape never sees half a sample.

use crate::registry::metric::Gauge;
use crate::registry::render::{render_labels, Kind, PageWriter};
use crate::registry::{Collect, Family, FloatCounter, SeriesCap};
use crate::sync::lock;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One complete codec sample.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CodecSample {
    /// Live channels by codec.
    pub by_codec: BTreeMap<String, u64>,
    /// Channels translating, by (from, to).
    pub translations: BTreeMap<(String, String), u64>,
    /// Channels with a translation path.
    pub transcoding: u64,
}

#[derive(Default)]
struct CodecState {
    collecting: Option<CodecSample>,
    published: Option<Arc<CodecSample>>,
}

/// The sampled families.
pub struct SampleModel {
    version: Mutex<String>,
    codecs: Mutex<CodecState>,
    last_sample: Mutex<Option<Instant>>,
    pub(crate) build_info: Family<Gauge>,
    pub(crate) uptime: Family<Gauge>,
    pub(crate) last_reload: Family<Gauge>,
    pub(crate) active_calls: Family<Gauge>,
    pub(crate) processed: Family<FloatCounter>,
}

impl SampleModel {
    /// Empty families.
    pub fn new(cap: &Arc<SeriesCap>) -> Self {
        SampleModel {
            version: Mutex::new(String::new()),
            codecs: Mutex::new(CodecState::default()),
            last_sample: Mutex::new(None),
            build_info: Family::new(
                "asterisk_build_info",
                "Asterisk version (value 1).",
                &["version"],
                (),
                cap.clone(),
            ),
            uptime: Family::new(
                "asterisk_uptime_seconds",
                "Time since Asterisk started.",
                &[],
                (),
                cap.clone(),
            ),
            last_reload: Family::new(
                "asterisk_last_reload_timestamp_seconds",
                "Unix time of Asterisk's last reload.",
                &[],
                (),
                cap.clone(),
            ),
            active_calls: Family::new(
                "asterisk_active_calls",
                "Active calls (ast_active_calls).",
                &[],
                (),
                cap.clone(),
            ),
            processed: Family::new(
                "asterisk_calls_processed_total",
                "Calls processed since Asterisk started (ast_processed_calls).",
                &[],
                (),
                cap.clone(),
            ),
        }
    }

    /// A system sample.
    pub fn system(
        &self,
        version: &str,
        startup_us: i64,
        last_reload_us: i64,
        active: i64,
        processed: i64,
        now_us: i64,
    ) {
        {
            let mut cur = lock(&self.version);
            if *cur != version {
                if !cur.is_empty() {
                    self.build_info.remove(&[cur.as_str()]);
                }
                self.build_info.with(&[version], |g| g.set(1.0));
                *cur = version.to_string();
            }
        }
        if startup_us > 0 && now_us >= startup_us {
            self.uptime
                .with(&[], |g| g.set((now_us - startup_us) as f64 / 1e6));
        }
        if last_reload_us > 0 {
            self.last_reload
                .with(&[], |g| g.set(last_reload_us as f64 / 1e6));
        }
        self.active_calls.with(&[], |g| g.set(active.max(0) as f64));
        self.processed
            .with(&[], |c| c.0.set(processed.max(0) as f64));
        *lock(&self.last_sample) = Some(Instant::now());
    }

    /// When the last system sample arrived (wall clock of this process).
    pub fn last_sample(&self) -> Option<Instant> {
        *lock(&self.last_sample)
    }

    /// Starts a codec sample (drops one left unfinished).
    pub fn codecs_begin(&self) {
        lock(&self.codecs).collecting = Some(CodecSample::default());
    }

    /// One channel of the codec sample.
    pub fn channel_codec(
        &self,
        codec: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(), String> {
        let mut st = lock(&self.codecs);
        let Some(s) = st.collecting.as_mut() else {
            return Err("sample_channel_codec called outside sample_codecs_begin/end".into());
        };
        match (from.filter(|f| !f.is_empty()), to.filter(|t| !t.is_empty())) {
            (Some(f), Some(t)) => {
                s.transcoding += 1;
                *s.translations
                    .entry((f.to_string(), t.to_string()))
                    .or_default() += 1;
            }
            (None, None) => {}
            _ => {
                return Err("translate_from and translate_to must be both set or both empty".into())
            }
        }
        // Counted only once the event is known to be valid: a refused event changes nothing.
        *s.by_codec.entry(codec.to_string()).or_default() += 1;
        Ok(())
    }

    /// Publishes the codec sample collected since the begin.
    pub fn codecs_end(&self) -> Result<(), String> {
        let mut st = lock(&self.codecs);
        let s = st
            .collecting
            .take()
            .ok_or("sample_codecs_end called without sample_codecs_begin")?;
        st.published = Some(Arc::new(s));
        Ok(())
    }

    /// The latest published codec sample.
    pub fn codec_sample(&self) -> Option<Arc<CodecSample>> {
        lock(&self.codecs).published.clone()
    }

    /// The families, in page order.
    pub fn families(&self) -> [&dyn Collect; 5] {
        [
            &self.build_info,
            &self.uptime,
            &self.last_reload,
            &self.active_calls,
            &self.processed,
        ]
    }
}

/// Names of the families [`CodecFamilies`] writes.
const CODEC_FAMILIES: [&str; 3] = [
    "asterisk_channels_by_codec",
    "asterisk_transcoding_channels",
    "asterisk_codec_translations",
];

/// The codec families, rendered from the latest published sample.
pub struct CodecFamilies {
    /// The sample (None before the first).
    pub sample: Option<Arc<CodecSample>>,
    /// Series cap.
    pub cap: usize,
}

impl Collect for CodecFamilies {
    fn name(&self) -> &str {
        "asterisk_channels_by_codec"
    }
    fn render(&self, w: &mut PageWriter<'_>) {
        let Some(s) = &self.sample else { return };
        if !s.by_codec.is_empty() {
            w.header(
                "asterisk_channels_by_codec",
                "Live channels by codec.",
                Kind::Gauge,
            );
            for (codec, n) in s.by_codec.iter().take(self.cap) {
                w.sample_u64(
                    "asterisk_channels_by_codec",
                    &render_labels(&["codec"], &[codec]),
                    *n,
                );
            }
        }
        w.header(
            "asterisk_transcoding_channels",
            "Live channels whose media is being transcoded.",
            Kind::Gauge,
        );
        w.sample_u64("asterisk_transcoding_channels", "", s.transcoding);
        if !s.translations.is_empty() {
            w.header(
                "asterisk_codec_translations",
                "Live channels translating between two codecs.",
                Kind::Gauge,
            );
            for ((from, to), n) in s.translations.iter().take(self.cap) {
                w.sample_u64(
                    "asterisk_codec_translations",
                    &render_labels(&["from", "to"], &[from, to]),
                    *n,
                );
            }
        }
    }
    fn selected_by(&self, prefix: &str) -> bool {
        CODEC_FAMILIES.iter().any(|f| f.starts_with(prefix))
    }
    fn dropped(&self) -> u64 {
        self.sample.as_ref().map_or(0, |s| {
            (s.by_codec.len().saturating_sub(self.cap)
                + s.translations.len().saturating_sub(self.cap)) as u64
        })
    }
    fn series_count(&self) -> usize {
        self.sample.as_ref().map_or(0, |s| {
            s.by_codec.len().min(self.cap) + 1 + s.translations.len().min(self.cap)
        })
    }
}
