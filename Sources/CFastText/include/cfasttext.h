/// A plain C interface to the reference fastText library (libfasttext), for darwin.
///
/// Models are loaded once and shared read-only; each thread makes its own predictor, which caches
/// the input-vector sum of every distinct token it sees, so long documents cost one hash lookup a word.
#ifndef CFASTTEXT_H
#define CFASTTEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cft_model cft_model;
typedef struct cft_predictor cft_predictor;

/// Loads a fastText model (.bin or quantised .ftz). On failure returns NULL and writes a lower-case
/// reason into `error` (at most `error_len` bytes, NUL-terminated).
cft_model *cft_model_load(const char *path, char *error, size_t error_len);
void cft_model_free(cft_model *model);

/// 1 for a supervised classifier, 0 for a word-vector (cbow/skipgram) model.
int cft_model_is_supervised(const cft_model *model);
/// Number of labels (supervised models).
int cft_model_label_count(const cft_model *model);
/// Label `i` as stored (with its "__label__" prefix), valid while the model lives.
const char *cft_model_label(const cft_model *model, int i);
/// Embedding dimension.
int cft_model_dim(const cft_model *model);
/// Training arguments for reports: minn, maxn, wordNgrams, and the loss name ("hs", "softmax", "ns", "ova").
void cft_model_args(const cft_model *model, int *minn, int *maxn, int *word_ngrams, const char **loss);

/// Training arguments of a supervised model, as the fastText CLI names them (`-lr`, `-dim`, …).
typedef struct cft_train_args {
    const char *input;  ///< a text file of lines "__label__x text"
    double lr;
    int lr_update_rate;
    int dim;
    int ws;
    int epoch;
    int min_count;
    int min_count_label;
    int neg;
    int word_ngrams;
    int bucket;
    int minn;
    int maxn;
    int threads;
    double sampling;   ///< -t
    const char *loss;  ///< "softmax", "hs", "ns" or "ova"
    int seed;
} cft_train_args;

/// Training progress: share done (0…1), average loss so far, current learning rate.
typedef void (*cft_progress_fn)(void *context, float progress, float loss, double lr);

/// Trains a supervised model with FastText::train. With one thread the result depends only on the input and
/// the arguments. On failure returns NULL and writes the reason into `error`.
cft_model *cft_train(const cft_train_args *args, cft_progress_fn progress, void *context, char *error,
                     size_t error_len);

/// Saves a model in fastText's binary format (.bin, or .ftz once quantized); 0 or -1 with `error` set.
int cft_model_save(const cft_model *model, const char *path, char *error, size_t error_len);

/// Quantizes a trained supervised model in place, as `fasttext quantize`: keeps the `cutoff` most important
/// rows (0: all), retrains on `input` after pruning when `retrain` is set, product-quantizes the input matrix
/// (`dsub`, `qnorm`) and the output matrix when `qout` is set. 0 or -1 with `error` set.
int cft_model_quantize(cft_model *model, const char *input, long cutoff, int retrain, int qnorm, int qout, int dsub,
                       char *error, size_t error_len);

/// A per-thread predictor with a token cache of up to `cache_entries` tokens.
cft_predictor *cft_predictor_new(const cft_model *model, size_t cache_entries);
void cft_predictor_free(cft_predictor *p);

/// Predicts labels of `text` split into tokens the way fastText reads a line (on ' ', '\n', '\r', '\t',
/// '\v', '\f', '\0', all treated as separators), followed by the end-of-line token.
///
/// Writes up to `k` (all labels when k <= 0) predictions with probability >= `threshold`, best first:
/// label indices into `labels`, probabilities into `probs`. Returns the number written, or -1 on error.
/// When the model's wordNgrams > 1 the exact reference path is used (n-gram features span tokens).
int cft_predict(cft_predictor *p, const char *text, size_t len, int k, float threshold, int *labels, float *probs);

/// The best label, whatever its probability, then every other label with probability >= `threshold`, best
/// first; returns the number written (0 when the text has no features), or -1 on error. Cheaper than
/// cft_predict with k <= 0: the label tree is only searched above the threshold.
int cft_predict_best(cft_predictor *p, const char *text, size_t len, float threshold, int *labels, float *probs);

/// The same through the reference `FastText::predictLine` (no cache), for checks.
int cft_predict_reference(const cft_model *model, const char *text, size_t len, int k, float threshold, int *labels,
                          float *probs);

#ifdef __cplusplus
}
#endif
#endif
