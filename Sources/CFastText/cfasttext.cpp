// C facade over libfasttext. Every C++ exception becomes an error return; no C++ type crosses the header.
#include "cfasttext.h"

#include <fasttext/fasttext.h>
#include <fasttext/loss.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

// Gives darwin access to the pieces FastText keeps protected: the dictionary, the input matrix and a
// loss built from the output matrix exactly as FastText builds its own.
class Model : public fasttext::FastText {
   public:
    std::shared_ptr<fasttext::Loss> loss;
    std::vector<std::string> labels;

    void load(const std::string &path) {
        std::ifstream in(path, std::ifstream::binary);
        if (!in.is_open()) throw std::invalid_argument("cannot open the file");
        // Short reads of a truncated file throw instead of looping on a failed stream.
        in.exceptions(std::ifstream::failbit | std::ifstream::badbit);
        if (!checkModel(in)) throw std::invalid_argument("not a fastText model (wrong magic number or version)");
        loadModel(in);
        if (args_->model == fasttext::model_name::sup) loss = createLoss(output_);
        for (int32_t i = 0; i < dict_->nlabels(); i++) labels.push_back(dict_->getLabel(i));
    }

    const fasttext::Dictionary &dict() const { return *dict_; }
    const fasttext::Matrix &input() const { return *input_; }
    const fasttext::Args &args() const { return *args_; }
};

struct CachedToken {
    std::vector<fasttext::real> sum;
    int32_t count;
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
    size_t capacity;
    std::unordered_map<std::string, CachedToken> cache;
    std::string token;
    std::unique_ptr<fasttext::Vector> row;
};

extern "C" {

cft_model *cft_model_load(const char *path, char *error, size_t error_len) {
    auto fail = [&](const std::string &why) -> cft_model * {
        if (error && error_len > 0) {
            std::strncpy(error, why.c_str(), error_len - 1);
            error[error_len - 1] = 0;
        }
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
        p->capacity = cache_entries;
        p->row.reset(new fasttext::Vector(model->ft.args().dim));
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

int cft_predict(cft_predictor *p, const char *text, size_t len, int k, float threshold, int *labels, float *probs) {
    try {
        const Model &ft = p->model->ft;
        const auto &args = ft.args();
        if (args.model != fasttext::model_name::sup || !ft.loss) return -1;
        if (args.wordNgrams > 1) return cft_predict_reference(p->model, text, len, k, threshold, labels, probs);
        const auto &dict = ft.dict();
        const int dim = args.dim;
        fasttext::Model::State state(dim, dict.nlabels(), 0);
        std::vector<fasttext::real> sum(dim, 0.0f);
        int64_t count = 0;
        auto add_token = [&](const std::string &token) {
            auto it = p->cache.find(token);
            if (it == p->cache.end()) {
                CachedToken c;
                c.sum.assign(dim, 0.0f);
                c.count = 0;
                int32_t wid = dict.getId(token);
                fasttext::entry_type type = wid < 0 ? dict.getType(token) : dict.getType(wid);
                if (type == fasttext::entry_type::word) {
                    std::vector<int32_t> ids = dict.getSubwords(token);
                    for (int32_t id : ids) {
                        fasttext::Vector &row = *p->row;
                        row.zero();
                        ft.input().addRowToVector(row, id);
                        for (int j = 0; j < dim; j++) c.sum[j] += row[j];
                    }
                    c.count = (int32_t)ids.size();
                }
                if (p->cache.size() >= p->capacity) p->cache.clear();
                it = p->cache.emplace(token, std::move(c)).first;
            }
            if (it->second.count > 0) {
                for (int j = 0; j < dim; j++) sum[j] += it->second.sum[j];
                count += it->second.count;
            }
        };
        size_t i = 0;
        while (i < len) {
            while (i < len && is_separator(text[i])) i++;
            size_t start = i;
            while (i < len && !is_separator(text[i])) i++;
            if (i > start) {
                p->token.assign(text + start, i - start);
                add_token(p->token);
            }
        }
        add_token(fasttext::Dictionary::EOS);
        if (count == 0) return 0;
        fasttext::real scale = (fasttext::real)(1.0 / (double)count);
        for (int j = 0; j < dim; j++) state.hidden[j] = sum[j] * scale;
        int32_t kk = k <= 0 ? dict.nlabels() : k;
        fasttext::Predictions heap;
        heap.reserve(kk + 1);
        ft.loss->predict(kk, threshold, heap, state);
        return write_predictions(heap, labels, probs);
    } catch (...) {
        return -1;
    }
}

}  // extern "C"
