// C facade over libfasttext. Every C++ exception becomes an error return; no C++ type crosses the header.
#include "cfasttext.h"

#include <fasttext/densematrix.h>
#include <fasttext/fasttext.h>
#include <fasttext/loss.h>

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

// Zeroed memory for the large tables read at random (decoded input matrix, token cache): one anonymous
// mapping, 2 MiB aligned and marked for transparent huge pages, so random reads do not also miss the TLB.
// Pages are only resident once touched.
class HugeBuffer {
    void *map_ = nullptr;
    size_t map_len_ = 0;
    void *data_ = nullptr;

   public:
    HugeBuffer() = default;
    explicit HugeBuffer(size_t bytes) {
        const size_t huge = size_t(2) << 20;
        const size_t rounded = (bytes + huge - 1) & ~(huge - 1);
        map_len_ = rounded + huge;
        map_ = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (map_ == MAP_FAILED) {
            map_ = nullptr;
            throw std::bad_alloc();
        }
        data_ = reinterpret_cast<void *>((reinterpret_cast<uintptr_t>(map_) + huge - 1) & ~uintptr_t(huge - 1));
        madvise(data_, rounded, MADV_HUGEPAGE);  // advice only: without THP the memory still works
    }
    HugeBuffer(const HugeBuffer &) = delete;
    HugeBuffer &operator=(const HugeBuffer &) = delete;
    HugeBuffer &operator=(HugeBuffer &&o) noexcept {
        std::swap(map_, o.map_);
        std::swap(map_len_, o.map_len_);
        std::swap(data_, o.data_);
        return *this;
    }
    ~HugeBuffer() {
        if (map_) munmap(map_, map_len_);
    }
    template <typename T>
    T *as() const {
        return static_cast<T *>(data_);
    }
};

// Reads the pruned-n-gram index and sizes of a Dictionary (protected members) to compute subword ids
// without the std::unordered_map lookups that dominate fastText's own computeSubwords.
struct DictionaryPeek : fasttext::Dictionary {
    static const std::unordered_map<int32_t, int32_t> &pruneidx(const fasttext::Dictionary &d) {
        return d.*(&DictionaryPeek::pruneidx_);
    }
    static int64_t pruneidx_size(const fasttext::Dictionary &d) { return d.*(&DictionaryPeek::pruneidx_size_); }
    static int32_t nwords(const fasttext::Dictionary &d) { return d.*(&DictionaryPeek::nwords_); }
};

// Open-addressing map from n-gram bucket to pruned row, built once per model; key and value share a slot so
// that a probe touches one cache line.
struct PruneTable {
    struct Slot {
        int32_t key, value;
    };
    std::vector<Slot> slots;
    uint32_t mask = 0;
    void build(const std::unordered_map<int32_t, int32_t> &m) {
        size_t size = 16;
        while (size < m.size() * 2 + 16) size <<= 1;
        slots.assign(size, Slot{-1, 0});
        mask = (uint32_t)size - 1;
        for (const auto &kv : m) {
            uint32_t slot = ((uint32_t)kv.first * 2654435761u) & mask;
            while (slots[slot].key != -1) slot = (slot + 1) & mask;
            slots[slot] = Slot{kv.first, kv.second};
        }
    }
    inline void prefetch(int32_t k) const { __builtin_prefetch(&slots[((uint32_t)k * 2654435761u) & mask]); }
    inline int32_t find(int32_t k) const {
        uint32_t slot = ((uint32_t)k * 2654435761u) & mask;
        while (true) {
            const Slot &s = slots[slot];
            if (s.key == k) return s.value;
            if (s.key == -1) return -1;
            slot = (slot + 1) & mask;
        }
    }
};

// x % d for 32-bit x without a division (Lemire, Kaser and Kurz, "Faster remainder by direct computation").
struct FastMod {
    uint64_t m = 0;
    uint32_t d = 1;
    void set(uint32_t divisor) {
        d = divisor;
        m = UINT64_C(0xFFFFFFFFFFFFFFFF) / d + 1;
    }
    inline uint32_t operator()(uint32_t x) const {
        uint64_t low = m * x;
        return (uint32_t)(((__uint128_t)low * d) >> 64);
    }
};

// Gives darwin access to the pieces FastText keeps protected: the dictionary, the input matrix and a
// loss built from the output matrix exactly as FastText builds its own.
class Model : public fasttext::FastText {
   public:
    std::shared_ptr<fasttext::Loss> loss;
    std::vector<std::string> labels;
    PruneTable prune;
    int64_t prune_size = -1;
    int32_t nwords = 0;
    // The input matrix as plain floats, row-major: the dense matrix itself, or a quantized matrix decoded once
    // (each row decoded into zeros, which is what QuantMatrix::addRowToVector adds, so sums stay bit-exact).
    // Null when a quantized matrix is too large to decode; predictions then take the reference path.
    const fasttext::real *table = nullptr;
    HugeBuffer decoded;

    FastMod bucket_mod;

    // fastText's Dictionary::computeSubwords + pushHash, with the fast prune table. The n-gram buckets are
    // computed first and their prune slots prefetched together, so the table's cache misses overlap.
    void subwords(const std::string &word, std::vector<int32_t> &out) const {
        if (prune_size == 0) return;
        const int minn = args_->minn, maxn = args_->maxn;
        const size_t first = out.size();
        for (size_t i = 0; i < word.size(); i++) {
            if ((word[i] & 0xC0) == 0x80) continue;
            uint32_t h = 2166136261u;
            for (size_t j = i, n = 1; j < word.size() && (int)n <= maxn; n++) {
                h = (h ^ uint32_t(int8_t(word[j++]))) * 16777619u;
                while (j < word.size() && (word[j] & 0xC0) == 0x80) h = (h ^ uint32_t(int8_t(word[j++]))) * 16777619u;
                if ((int)n >= minn && !(n == 1 && (i == 0 || j == word.size()))) {
                    int32_t id = (int32_t)bucket_mod(h);
                    if (id < 0) continue;
                    if (prune_size > 0) prune.prefetch(id);
                    out.push_back(id);
                }
            }
        }
        size_t kept = first;
        for (size_t k = first; k < out.size(); k++) {
            int32_t id = out[k];
            if (prune_size > 0) {
                id = prune.find(id);
                if (id < 0) continue;
            }
            out[kept++] = nwords + id;
        }
        out.resize(kept);
    }

    void load(const std::string &path) {
        std::ifstream in(path, std::ifstream::binary);
        if (!in.is_open()) throw std::invalid_argument("cannot open the file");
        // Short reads of a truncated file throw instead of looping on a failed stream.
        in.exceptions(std::ifstream::failbit | std::ifstream::badbit);
        if (!checkModel(in)) throw std::invalid_argument("not a fastText model (wrong magic number or version)");
        loadModel(in);
        // Anything after the model means the file is not what it claims to be.
        in.exceptions(std::ifstream::goodbit);
        if (in.peek() != std::char_traits<char>::eof()) throw std::invalid_argument("unexpected bytes after the model");
        prepare();
    }

    // Trains a model as FastText::train does (the arguments decide everything, including the seed).
    void train_model(const fasttext::Args &a, const fasttext::FastText::TrainCallback &callback) {
        train(a, callback);
        prepare();
    }

    // Quantizes a trained supervised model in place (FastText::quantize), then prepares it again.
    void quantize_model(const fasttext::Args &q) {
        quantize(q);
        prepare();
    }

    // The derived tables darwin predicts with, rebuilt after loading, training or quantizing.
    void prepare() {
        loss.reset();
        labels.clear();
        prune = PruneTable();
        table = nullptr;
        decoded = HugeBuffer();
        if (args_->model == fasttext::model_name::sup) loss = createLoss(output_);
        for (int32_t i = 0; i < dict_->nlabels(); i++) labels.push_back(dict_->getLabel(i));
        prune_size = DictionaryPeek::pruneidx_size(*dict_);
        nwords = DictionaryPeek::nwords(*dict_);
        if (args_->bucket > 0) bucket_mod.set((uint32_t)args_->bucket);
        if (prune_size > 0) prune.build(DictionaryPeek::pruneidx(*dict_));
        const int64_t rows = input_->size(0), dim = input_->size(1);
        if (!quant_) {
            table = static_cast<const fasttext::DenseMatrix &>(*input_).data();
        } else if (rows * dim <= kMaxDecodedFloats) {
            decoded = HugeBuffer((size_t)(rows * dim) * sizeof(fasttext::real));
            fasttext::real *out = decoded.as<fasttext::real>();
            fasttext::Vector row(dim);
            for (int64_t r = 0; r < rows; r++) {
                row.zero();
                input_->addRowToVector(row, (int32_t)r);
                std::memcpy(out + r * dim, row.data(), (size_t)dim * sizeof(fasttext::real));
            }
            table = out;
        }
    }
    static constexpr int64_t kMaxDecodedFloats = 64 << 20;  // 256 MB

    const fasttext::Dictionary &dict() const { return *dict_; }
    const fasttext::Model &model() const { return *model_; }
    const fasttext::Matrix &input() const { return *input_; }
    const fasttext::Args &args() const { return *args_; }
};

// A flat cache from token to the input rows of its features, in the order fastText adds them, so that adding
// them again reproduces the reference hidden vector bit for bit. Entries live in one arena:
// [length, count | kWordFlag, fastText hash, token bytes padded to 4, count row ids]; the flag marks tokens
// of type word, whose hashes feed the word n-grams. The table holds a 32-bit tag of the token's hash
// and the entry's offset; probing reads only the table, and the entry is compared when its ids are needed,
// after a prefetch. When the table is half full or the arena full, everything is dropped at once.
struct TokenCache {
    static constexpr size_t kMaxTokenBytes = 1024;  // longer tokens are not cached
    static constexpr uint32_t kWordFlag = 0x80000000u;
    struct Slot {
        uint32_t tag;  // 0 = empty
        uint32_t offset;
    };
    HugeBuffer slot_memory, arena_memory;
    Slot *slots = nullptr;
    uint32_t *arena = nullptr;
    size_t size = 0, capacity = 0, used = 0, arena_size = 0, arena_capacity = 0;
    uint32_t mask = 0;
    uint64_t generation = 0;  // bumped by clear, so remembered offsets can be checked

    void init(size_t entries, size_t arena_words) {
        size = 1024;
        while (size < entries * 2) size <<= 1;
        capacity = size / 2;
        mask = (uint32_t)size - 1;
        arena_capacity = std::min(arena_words, (size_t)UINT32_MAX);
        slot_memory = HugeBuffer(size * sizeof(Slot));
        arena_memory = HugeBuffer(arena_capacity * sizeof(uint32_t));
        slots = slot_memory.as<Slot>();
        arena = arena_memory.as<uint32_t>();
    }

    void clear() {
        generation++;
        std::memset(slots, 0, size * sizeof(Slot));
        used = 0;
        arena_size = 0;
    }

    static uint64_t hash(const char *p, size_t n) {
        uint64_t h = 1469598103934665603ULL ^ n;
        for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
        return h;
    }
    inline uint32_t slot_of(uint64_t h) const { return (uint32_t)(h >> 32) & mask; }
    static inline uint32_t tag_of(uint64_t h) { return (uint32_t)h | 1; }

    void prefetch_slot(uint64_t h) const { __builtin_prefetch(&slots[slot_of(h)]); }

    // Offset of the first entry whose tag matches, or -1, without reading the arena.
    int64_t candidate(uint64_t h) const {
        const uint32_t tag = tag_of(h);
        for (uint32_t slot = slot_of(h); slots[slot].tag; slot = (slot + 1) & mask)
            if (slots[slot].tag == tag) return slots[slot].offset;
        return -1;
    }

    bool matches(int64_t offset, const char *p, size_t n) const {
        const uint32_t *e = arena + offset;
        return e[0] == n && std::memcmp(e + 3, p, n) == 0;
    }

    // Offset of the token's entry, or -1.
    int64_t find(const char *p, size_t n, uint64_t h) const {
        const uint32_t tag = tag_of(h);
        for (uint32_t slot = slot_of(h); slots[slot].tag; slot = (slot + 1) & mask)
            if (slots[slot].tag == tag && matches(slots[slot].offset, p, n)) return slots[slot].offset;
        return -1;
    }

    static size_t entry_words(size_t n, size_t count) { return 3 + (n + 3) / 4 + count; }

    // Reading an entry.
    static inline uint32_t count_of(const uint32_t *e) { return e[1] & ~kWordFlag; }
    static inline bool is_word(const uint32_t *e) { return e[1] & kWordFlag; }
    static inline int32_t word_hash(const uint32_t *e) { return (int32_t)e[2]; }
    static inline const uint32_t *ids_of(const uint32_t *e) { return e + 3 + (e[0] + 3) / 4; }

    static void write_entry(uint32_t *e, const char *p, size_t n, const std::vector<int32_t> &ids, bool word,
                            uint32_t hash) {
        e[0] = (uint32_t)n;
        e[1] = (uint32_t)ids.size() | (word ? kWordFlag : 0);
        e[2] = hash;
        if (n % 4) e[2 + (n + 3) / 4] = 0;  // padding after the token's bytes
        std::memcpy(e + 3, p, n);
        std::memcpy(e + 3 + (n + 3) / 4, ids.data(), ids.size() * sizeof(int32_t));
    }

    // Adds the token's entry, clearing the cache first when it is full; -1 when the entry is too large to keep.
    int64_t insert(const char *p, size_t n, uint64_t h, const std::vector<int32_t> &ids, bool word, uint32_t hash) {
        const size_t words = entry_words(n, ids.size());
        if (n > kMaxTokenBytes || words > arena_capacity / 4) return -1;
        if (used >= capacity || arena_size + words > arena_capacity) clear();
        const uint32_t offset = (uint32_t)arena_size;
        write_entry(arena + offset, p, n, ids, word, hash);
        arena_size += words;
        uint32_t slot = slot_of(h);
        while (slots[slot].tag) slot = (slot + 1) & mask;
        slots[slot] = Slot{tag_of(h), offset};
        used++;
        return offset;
    }
};

int write_predictions(const fasttext::Predictions &heap, int *labels, float *probs) {
    int n = 0;
    for (const auto &p : heap) {
        labels[n] = p.second;
        probs[n] = std::exp(p.first);
        n++;
    }
    return n;
}

}  // namespace

struct cft_model {
    Model ft;
};

struct cft_predictor {
    const cft_model *model;
    TokenCache cache;
    std::vector<int32_t> ids;
    std::vector<uint32_t> scratch;  // the entry of a token that is not cached
    std::string token, word;
    bool token_is_word = false;
    uint32_t token_hash = 0;
    std::vector<int32_t> word_hashes, ngram_rows;  // word n-grams of the current line
    struct Tok {
        const char *ptr;
        size_t len;
        uint64_t hash;
        int64_t offset;
        uint64_t generation;
        bool checked;  // offset verified against the token's bytes
    };
    std::vector<Tok> toks;

    // The features of a token, as Dictionary::getLine and Model::computeHidden find them, into `ids`.
    void features(const char *tp, size_t tn) {
        const Model &ft = model->ft;
        const auto &dict = ft.dict();
        token.assign(tp, tn);
        ids.clear();
        token_hash = dict.hash(token);
        int32_t wid = dict.getId(token, token_hash);
        fasttext::entry_type type = wid < 0 ? dict.getType(token) : dict.getType(wid);
        token_is_word = type == fasttext::entry_type::word;
        if (!token_is_word) return;
        if (wid >= 0) {
            ids = dict.getSubwords(wid);
        } else if (token != fasttext::Dictionary::EOS && ft.args().maxn > 0) {
            word.assign(fasttext::Dictionary::BOW);
            word.append(token);
            word.append(fasttext::Dictionary::EOW);
            ft.subwords(word, ids);
        }
    }

    // The token's entry: from the cache (checking a remembered probe), or computed and cached, or computed
    // into `scratch` when it cannot be cached.
    const uint32_t *entry(Tok &t) {
        if (t.len <= TokenCache::kMaxTokenBytes) {
            int64_t off = t.offset;
            if (off < 0 || t.generation != cache.generation || !(t.checked || cache.matches(off, t.ptr, t.len))) {
                off = cache.find(t.ptr, t.len, t.hash);
                if (off < 0) {
                    features(t.ptr, t.len);
                    off = cache.insert(t.ptr, t.len, t.hash, ids, token_is_word, token_hash);
                }
                t.offset = off;
                t.generation = cache.generation;
            }
            if (off >= 0) {
                t.checked = true;
                return cache.arena + off;
            }
        } else {
            features(t.ptr, t.len);
        }
        scratch.resize(TokenCache::entry_words(t.len, ids.size()));
        TokenCache::write_entry(scratch.data(), t.ptr, t.len, ids, token_is_word, token_hash);
        return scratch.data();
    }
};

extern "C" {

static void set_error(char *error, size_t error_len, const std::string &why) {
    if (error && error_len > 0) {
        std::strncpy(error, why.c_str(), error_len - 1);
        error[error_len - 1] = 0;
    }
}

cft_model *cft_model_load(const char *path, char *error, size_t error_len) {
    auto fail = [&](const std::string &why) -> cft_model * {
        set_error(error, error_len, why);
        return nullptr;
    };
    try {
        auto *m = new cft_model();
        try {
            m->ft.load(path);
        } catch (...) {
            delete m;
            throw;
        }
        return m;
    } catch (const std::ios_base::failure &) {
        return fail("the file ends early (truncated model)");
    } catch (const std::bad_alloc &) {
        return fail("corrupt model (implausible sizes)");
    } catch (const std::exception &e) {
        return fail(e.what());
    } catch (...) {
        return fail("unknown error while loading");
    }
}

void cft_model_free(cft_model *model) { delete model; }

cft_model *cft_train(const cft_train_args *a, cft_progress_fn progress, void *context, char *error,
                     size_t error_len) {
    try {
        fasttext::Args args;
        args.input = a->input;
        args.output = "";
        args.model = fasttext::model_name::sup;
        args.lr = a->lr;
        args.lrUpdateRate = a->lr_update_rate;
        args.dim = a->dim;
        args.ws = a->ws;
        args.epoch = a->epoch;
        args.minCount = a->min_count;
        args.minCountLabel = a->min_count_label;
        args.neg = a->neg;
        args.wordNgrams = a->word_ngrams;
        args.bucket = a->bucket;
        args.minn = a->minn;
        args.maxn = a->maxn;
        args.thread = a->threads;
        args.t = (float)a->sampling;  // the CLI parses -t with std::stof; the same value gives the same file
        args.seed = a->seed;
        args.verbose = 0;
        const std::string loss = a->loss;
        if (loss == "softmax") {
            args.loss = fasttext::loss_name::softmax;
        } else if (loss == "hs") {
            args.loss = fasttext::loss_name::hs;
        } else if (loss == "ns") {
            args.loss = fasttext::loss_name::ns;
        } else if (loss == "ova") {
            args.loss = fasttext::loss_name::ova;
        } else {
            throw std::invalid_argument("unknown loss '" + loss + "'");
        }
        fasttext::FastText::TrainCallback callback;
        if (progress)
            callback = [progress, context](float done, float l, double, double lr, int64_t) {
                progress(context, done, l, lr);
            };
        auto m = std::make_unique<cft_model>();
        m->ft.train_model(args, callback);
        return m.release();
    } catch (const std::exception &e) {
        set_error(error, error_len, e.what());
        return nullptr;
    } catch (...) {
        set_error(error, error_len, "unknown error while training");
        return nullptr;
    }
}

int cft_model_save(const cft_model *m, const char *path, char *error, size_t error_len) {
    try {
        const_cast<Model &>(m->ft).saveModel(path);
        return 0;
    } catch (const std::exception &e) {
        set_error(error, error_len, e.what());
        return -1;
    }
}

int cft_model_quantize(cft_model *m, const char *input, long cutoff, int retrain, int qnorm, int qout, int dsub,
                       char *error, size_t error_len) {
    try {
        fasttext::Args q;
        q.input = input ? input : "";
        q.output = "";
        q.cutoff = cutoff > 0 ? (size_t)cutoff : 0;
        q.retrain = retrain != 0 && input != nullptr;
        q.qnorm = qnorm != 0;
        q.qout = qout != 0;
        q.dsub = dsub > 0 ? (size_t)dsub : 2;
        q.verbose = 0;
        const auto &trained = m->ft.args();
        q.epoch = trained.epoch;
        q.lr = trained.lr;
        q.thread = trained.thread;
        m->ft.quantize_model(q);
        return 0;
    } catch (const std::exception &e) {
        set_error(error, error_len, e.what());
        return -1;
    }
}

int cft_model_is_supervised(const cft_model *m) { return m->ft.args().model == fasttext::model_name::sup; }

int cft_model_label_count(const cft_model *m) { return (int)m->ft.labels.size(); }

const char *cft_model_label(const cft_model *m, int i) {
    if (i < 0 || (size_t)i >= m->ft.labels.size()) return "";
    return m->ft.labels[(size_t)i].c_str();
}

int cft_model_dim(const cft_model *m) { return m->ft.args().dim; }

void cft_model_args(const cft_model *m, int *minn, int *maxn, int *word_ngrams, const char **loss) {
    const auto &a = m->ft.args();
    *minn = a.minn;
    *maxn = a.maxn;
    *word_ngrams = a.wordNgrams;
    switch (a.loss) {
        case fasttext::loss_name::hs: *loss = "hs"; break;
        case fasttext::loss_name::softmax: *loss = "softmax"; break;
        case fasttext::loss_name::ns: *loss = "ns"; break;
        default: *loss = "ova"; break;
    }
}

cft_predictor *cft_predictor_new(const cft_model *model, size_t cache_entries) {
    try {
        auto *p = new cft_predictor();
        p->model = model;
        p->cache.init(cache_entries, cache_entries * 24);  // room for tokens of ~16 features on average
        return p;
    } catch (...) {
        return nullptr;
    }
}

void cft_predictor_free(cft_predictor *p) { delete p; }

static inline bool is_separator(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
}

int cft_predict_reference(const cft_model *model, const char *text, size_t len, int k, float threshold, int *labels,
                          float *probs) {
    try {
        const auto &ft = model->ft;
        std::string line(text, len);
        line.push_back('\n');
        std::istringstream in(line);
        std::vector<int32_t> words, wlabels;
        ft.dict().getLine(in, words, wlabels);
        fasttext::Predictions heap;
        ft.predict(k <= 0 ? -1 : k, words, heap, threshold);
        return write_predictions(heap, labels, probs);
    } catch (...) {
        return -1;
    }
}

// The averaged input vector of a line into state.hidden, as Model::computeHidden; false when the line has no
// features. Token features come from the cache; word n-grams (wordNgrams > 1) are hashed from the cached word
// hashes as Dictionary::addWordNgrams does, and added after all token features, in fastText's order. A
// quantized matrix too large to decode takes fastText's own path.
static bool compute_hidden(cft_predictor *p, const char *text, size_t len, fasttext::Model::State &state) {
    const Model &ft = p->model->ft;
    const auto &args = ft.args();
    fasttext::Vector &hidden = state.hidden;
    hidden.zero();
    if (!ft.table) {
        std::string line(text, len);
        for (char &c : line)
            if (c == '\n') c = ' ';  // one line, as the cached path reads it
        line.push_back('\n');
        std::istringstream in(line);
        std::vector<int32_t> words, wlabels;
        ft.dict().getLine(in, words, wlabels);
        if (words.empty()) return false;
        ft.model().computeHidden(words, state);
        return true;
    }
    const int dim = args.dim;
    const int ngrams = args.wordNgrams;
    int64_t count = 0;
    fasttext::real *h = hidden.data();
    auto add_row = [&](uint32_t id) {
        const fasttext::real *row = ft.table + (size_t)id * dim;
        for (int j = 0; j < dim; j++) h[j] += row[j];
    };
    // The line's tokens, split as fastText reads a line, then the end-of-line token.
    auto &toks = p->toks;
    toks.clear();
    size_t i = 0;
    while (i < len) {
        while (i < len && is_separator(text[i])) i++;
        size_t start = i;
        while (i < len && !is_separator(text[i])) i++;
        if (i > start) toks.push_back({text + start, i - start, TokenCache::hash(text + start, i - start), -1, 0, false});
    }
    const std::string &eos = fasttext::Dictionary::EOS;
    toks.push_back({eos.data(), eos.size(), TokenCache::hash(eos.data(), eos.size()), -1, 0, false});
    auto &hashes = p->word_hashes;
    hashes.clear();
    // Stages D tokens apart, so that table, entry and row loads are in flight before they are needed:
    // prefetch the slot (i), probe it and prefetch the entry (i - D), prefetch the rows (i - 2D), add them
    // (i - 3D). A probe made before the cache was cleared is made again.
    TokenCache &cache = p->cache;
    const fasttext::real *table = ft.table;
    const size_t D = 6, n = toks.size();
    for (size_t step = 0; step < n + 3 * D; step++) {
        if (step < n) cache.prefetch_slot(toks[step].hash);
        if (step >= D && step - D < n) {
            auto &t = toks[step - D];
            t.offset = cache.candidate(t.hash);
            t.generation = cache.generation;
            t.checked = false;
            if (t.offset >= 0) __builtin_prefetch(cache.arena + t.offset);
        }
        if (step >= 2 * D && step - 2 * D < n) {
            const uint32_t *e = p->entry(toks[step - 2 * D]);
            const uint32_t *ids = TokenCache::ids_of(e);
            for (uint32_t r = 0, c = TokenCache::count_of(e); r < c; r++)
                __builtin_prefetch(table + (size_t)ids[r] * dim);
        }
        if (step >= 3 * D) {
            const uint32_t *e = p->entry(toks[step - 3 * D]);
            const uint32_t c = TokenCache::count_of(e);
            const uint32_t *ids = TokenCache::ids_of(e);
            for (uint32_t r = 0; r < c; r++) add_row(ids[r]);
            count += c;
            if (ngrams > 1 && TokenCache::is_word(e)) hashes.push_back(TokenCache::word_hash(e));
        }
    }
    if (ngrams > 1 && ft.prune_size != 0) {
        // Dictionary::addWordNgrams: the 32-bit word hashes are widened with their sign, as fastText does.
        auto &rows = p->ngram_rows;
        rows.clear();
        const uint64_t bucket = (uint64_t)args.bucket;
        for (size_t a = 0; a < hashes.size(); a++) {
            uint64_t g = (uint64_t)(int64_t)hashes[a];
            for (size_t b = a + 1; b < hashes.size() && b < a + (size_t)ngrams; b++) {
                g = g * 116049371 + (uint64_t)(int64_t)hashes[b];
                int32_t id = (int32_t)(g % bucket);
                if (ft.prune_size > 0) {
                    id = ft.prune.find(id);
                    if (id < 0) continue;
                }
                rows.push_back(ft.nwords + id);
                __builtin_prefetch(table + (size_t)(ft.nwords + id) * dim);
            }
        }
        for (int32_t r : rows) add_row((uint32_t)r);
        count += (int64_t)rows.size();
    }
    if (count == 0) return false;
    hidden.mul(1.0 / count);  // as Model::computeHidden
    return true;
}

static bool supervised(const cft_predictor *p) {
    return p->model->ft.args().model == fasttext::model_name::sup && p->model->ft.loss;
}

int cft_predict(cft_predictor *p, const char *text, size_t len, int k, float threshold, int *labels, float *probs) {
    try {
        if (!supervised(p)) return -1;
        const Model &ft = p->model->ft;
        fasttext::Model::State state(ft.args().dim, ft.dict().nlabels(), 0);
        if (!compute_hidden(p, text, len, state)) return 0;
        int32_t kk = k <= 0 ? ft.dict().nlabels() : k;
        fasttext::Predictions heap;
        heap.reserve(kk + 1);
        ft.loss->predict(kk, threshold, heap, state);
        return write_predictions(heap, labels, probs);
    } catch (...) {
        return -1;
    }
}

int cft_predict_best(cft_predictor *p, const char *text, size_t len, float threshold, int *labels, float *probs) {
    try {
        if (!supervised(p)) return -1;
        const Model &ft = p->model->ft;
        fasttext::Model::State state(ft.args().dim, ft.dict().nlabels(), 0);
        if (!compute_hidden(p, text, len, state)) return 0;
        fasttext::Predictions heap;
        ft.loss->predict(ft.dict().nlabels(), threshold, heap, state);
        if (heap.empty()) ft.loss->predict(1, 0.0, heap, state);
        return write_predictions(heap, labels, probs);
    } catch (...) {
        return -1;
    }
}

}  // extern "C"
