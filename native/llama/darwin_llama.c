// darwin's engine on llama.cpp: continuous batching of many sequences in one context, a shared prompt
// prefix decoded once per call and its KV copied to every sequence, sampling chains with grammars and stop strings,
// per-token log-probabilities and mean-pooled embeddings. Interface: darwin_llama.h.
//
// Every call starts from an empty KV cache and decodes its requests in a fixed order, so the same requests
// give the same batches, cell placements and numbers every time: output depends on the call, not on what
// the engine did before.
#define _POSIX_C_SOURCE 200809L
#include "darwin_llama.h"

#include <llama.h>

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dl_engine {
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    dl_engine_params params;
    int32_t prefix_seq; // the sequence holding the shared prefix (n_seq)
    struct llama_batch batch;
};

static void set_error(char *error, size_t len, const char *format, ...) {
    if (!error || len == 0) return;
    va_list args;
    va_start(args, format);
    vsnprintf(error, len, format, args);
    va_end(args);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void quiet_log(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static const char *dl_llama_version(void) { return llama_version(); }

static dl_engine *dl_open(const dl_engine_params *p, char *error, size_t error_len) {
    static int initialized = 0;
    if (!initialized) {
        llama_log_set(quiet_log, NULL);
        llama_backend_init();
        initialized = 1;
    }
    if (p->n_seq < 1 || p->n_ctx_seq < 8 || p->n_batch <= p->n_seq || p->n_threads < 1) {
        set_error(error, error_len, "invalid engine parameters");
        return NULL;
    }
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(p->model_path, mp);
    if (!model) {
        set_error(error, error_len, "%s: llama.cpp could not load the model", p->model_path);
        return NULL;
    }
    struct llama_context_params cp = llama_context_default_params();
    // One KV stream per sequence (each attends over its own cells only, as fast as separate contexts), and one
    // more for the shared prefix, which is decoded there once per call and copied into each sequence's stream.
    // Every stream holds the prefix and a sequence's own tokens.
    int32_t streams = p->embeddings ? p->n_seq : p->n_seq + 1;
    int64_t n_ctx = (int64_t)streams * (p->n_ctx_seq + (p->embeddings ? 0 : p->n_prefix_max));
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_batch = (uint32_t)p->n_batch;
    cp.n_ubatch = (uint32_t)(p->n_batch < 512 ? p->n_batch : 512);
    // An embedding context has no prefix stream (and mean pooling over a sequence count it does not expect
    // fails an assertion in this llama.cpp).
    cp.n_seq_max = (uint32_t)streams;
    cp.n_threads = p->n_threads;
    cp.n_threads_batch = p->n_threads;
    cp.kv_unified = false;
    cp.no_perf = true;
    if (p->embeddings) {
        cp.embeddings = true;
        cp.pooling_type = LLAMA_POOLING_TYPE_MEAN;
    }
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        llama_model_free(model);
        set_error(error, error_len, "%s: llama.cpp could not make a context of %lld tokens", p->model_path,
                  (long long)n_ctx);
        return NULL;
    }
    dl_engine *e = calloc(1, sizeof(dl_engine));
    e->model = model;
    e->ctx = ctx;
    e->vocab = llama_model_get_vocab(model);
    e->params = *p;
    e->params.model_path = NULL;
    e->prefix_seq = p->n_seq;
    e->batch = llama_batch_init(p->n_batch, 0, 1);
    return e;
}

static void dl_close(dl_engine *e) {
    if (!e) return;
    llama_batch_free(e->batch);
    llama_free(e->ctx);
    llama_model_free(e->model);
    free(e);
}

static int32_t dl_meta(dl_engine *e, const char *key, char *buf, size_t len) {
    return llama_model_meta_val_str(e->model, key, buf, len);
}

static int32_t dl_n_vocab(dl_engine *e) { return llama_vocab_n_tokens(e->vocab); }
static int32_t dl_n_embd(dl_engine *e) { return llama_model_n_embd(e->model); }
static int32_t dl_n_ctx_train(dl_engine *e) { return llama_model_n_ctx_train(e->model); }

static int32_t dl_tokenize(dl_engine *e, const char *text, int32_t len, int32_t *tokens, int32_t max, int32_t add_bos,
                           int32_t parse_special) {
    return llama_tokenize(e->vocab, text, len, tokens, max, add_bos != 0, parse_special != 0);
}

static int64_t dl_token_bytes(dl_engine *e, const int32_t *tokens, int32_t n) {
    char piece[256];
    int64_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t len = llama_token_to_piece(e->vocab, tokens[i], piece, sizeof(piece), 0, false);
        if (len > 0) total += len;
    }
    return total;
}

static int32_t dl_chat_template(dl_engine *e, const char *const *roles, const char *const *contents, int32_t n,
                                int32_t add_assistant, char *buf, int32_t len) {
    const char *tmpl = llama_model_chat_template(e->model, NULL);
    if (!tmpl) return -1;
    struct llama_chat_message *messages = calloc((size_t)(n > 0 ? n : 1), sizeof(struct llama_chat_message));
    for (int32_t i = 0; i < n; i++) {
        messages[i].role = roles[i];
        messages[i].content = contents[i];
    }
    int32_t r = llama_chat_apply_template(tmpl, messages, (size_t)n, add_assistant != 0, buf, len);
    free(messages);
    return r;
}

static int32_t dl_check_grammar(dl_engine *e, const char *grammar) {
    struct llama_sampler *s = llama_sampler_init_grammar(e->vocab, grammar, "root");
    if (!s) return -1;
    llama_sampler_free(s);
    return 0;
}

// MARK: - batches

static void batch_clear(struct llama_batch *b) { b->n_tokens = 0; }

static void batch_add(struct llama_batch *b, llama_token token, llama_pos pos, llama_seq_id seq, bool logits) {
    int32_t i = b->n_tokens++;
    b->token[i] = token;
    b->pos[i] = pos;
    b->n_seq_id[i] = 1;
    b->seq_id[i][0] = seq;
    b->logits[i] = logits ? 1 : 0;
}

static int32_t decode(dl_engine *e, dl_call_stats *stats, char *error, size_t error_len) {
    double start = now_seconds();
    int32_t r = llama_decode(e->ctx, e->batch);
    if (stats) {
        stats->decode_calls += 1;
        stats->decode_seconds += now_seconds() - start;
    }
    if (r != 0) set_error(error, error_len, "llama_decode failed (%d) on a batch of %d tokens", r, e->batch.n_tokens);
    return r;
}

/// Starts a call from an empty cache: same requests, same cells, same numbers.
static void reset_memory(dl_engine *e) { llama_memory_clear(llama_get_memory(e->ctx), true); }

/// Decodes the prefix into the prefix sequence (in n_batch pieces); no logits.
static int32_t decode_prefix(dl_engine *e, const int32_t *prefix, int32_t n_prefix, dl_call_stats *stats, char *error,
                             size_t error_len) {
    for (int32_t start = 0; start < n_prefix; start += e->params.n_batch) {
        batch_clear(&e->batch);
        int32_t end = start + e->params.n_batch < n_prefix ? start + e->params.n_batch : n_prefix;
        for (int32_t i = start; i < end; i++) batch_add(&e->batch, prefix[i], i, e->prefix_seq, false);
        if (decode(e, stats, error, error_len) != 0) return -1;
        if (stats) stats->prompt_tokens_decoded += end - start;
    }
    return 0;
}

// MARK: - generation

typedef struct slot {
    int32_t request; // -1: free
    int32_t fed;     // request tokens already in the batch
    llama_pos pos;   // next position
    int32_t logits_index;
    struct llama_sampler *sampler;
    char *text;
    int32_t len, cap;
    int32_t generated;
    llama_token last;
} slot;

static struct llama_sampler *make_sampler(dl_engine *e, const dl_sampling *s, uint32_t seed, char *error,
                                          size_t error_len) {
    struct llama_sampler_chain_params cp = llama_sampler_chain_default_params();
    cp.no_perf = true;
    struct llama_sampler *chain = llama_sampler_chain_init(cp);
    if (s->repeat_penalty != 1.0f && s->repeat_last_n != 0)
        llama_sampler_chain_add(chain, llama_sampler_init_penalties(llama_vocab_n_tokens(e->vocab), s->repeat_last_n,
                                                                    s->repeat_penalty, 0.0f, 0.0f));
    if (s->grammar && s->grammar[0]) {
        struct llama_sampler *g = llama_sampler_init_grammar(e->vocab, s->grammar, "root");
        if (!g) {
            llama_sampler_free(chain);
            set_error(error, error_len, "the grammar does not parse");
            return NULL;
        }
        llama_sampler_chain_add(chain, g);
    }
    if (s->temperature <= 0.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_greedy());
        return chain;
    }
    if (s->top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(s->top_k));
    if (s->top_p < 1.0f) llama_sampler_chain_add(chain, llama_sampler_init_top_p(s->top_p, 1));
    if (s->min_p > 0.0f) llama_sampler_chain_add(chain, llama_sampler_init_min_p(s->min_p, 1));
    llama_sampler_chain_add(chain, llama_sampler_init_temp(s->temperature));
    llama_sampler_chain_add(chain, llama_sampler_init_dist(seed));
    return chain;
}

static void append(slot *sl, const char *piece, int32_t n) {
    if (sl->len + n + 1 > sl->cap) {
        sl->cap = (sl->len + n + 1) * 2;
        sl->text = realloc(sl->text, (size_t)sl->cap);
    }
    memcpy(sl->text + sl->len, piece, (size_t)n);
    sl->len += n;
    sl->text[sl->len] = 0;
}

/// Whether a stop string ends within the text just appended; cuts the text at its start.
static bool cut_at_stop(slot *sl, int32_t appended, const dl_sampling *s) {
    for (int32_t i = 0; i < s->n_stop; i++) {
        const char *stop = s->stop[i];
        int32_t n = (int32_t)strlen(stop);
        if (n == 0) continue;
        int32_t from = sl->len - appended - n + 1;
        if (from < 0) from = 0;
        for (int32_t at = from; at + n <= sl->len; at++) {
            if (memcmp(sl->text + at, stop, (size_t)n) == 0) {
                sl->len = at;
                sl->text[at] = 0;
                return true;
            }
        }
    }
    return false;
}

static void finish_slot(slot *sl, dl_result *results, int32_t finish) {
    dl_result *r = &results[sl->request];
    r->finish = finish;
    r->text = sl->text ? sl->text : calloc(1, 1);
    r->text_len = sl->len;
    r->completion_tokens = sl->generated;
    sl->text = NULL;
    sl->len = sl->cap = 0;
    llama_sampler_free(sl->sampler);
    sl->sampler = NULL;
    sl->request = -1;
}

static int32_t dl_generate(dl_engine *e, const int32_t *prefix, int32_t n_prefix, const dl_request *requests,
                           int32_t n_requests, const dl_sampling *s, dl_result *results, dl_call_stats *stats,
                           char *error, size_t error_len) {
    const int32_t n_seq = e->params.n_seq;
    memset(results, 0, sizeof(dl_result) * (size_t)n_requests);
    if (n_prefix > e->params.n_prefix_max) {
        set_error(error, error_len, "the shared prompt has %d tokens, more than the %d reserved for it", n_prefix,
                  e->params.n_prefix_max);
        return -1;
    }
    reset_memory(e);
    if (n_prefix > 0 && decode_prefix(e, prefix, n_prefix, stats, error, error_len) != 0) return -1;
    llama_memory_t mem = llama_get_memory(e->ctx);

    slot *slots = calloc((size_t)n_seq, sizeof(slot));
    for (int32_t i = 0; i < n_seq; i++) slots[i].request = -1;
    int32_t next = 0, active = 0, status = 0;
    char piece[256];

    for (;;) {
        // Give free slots the next requests, in order.
        for (int32_t i = 0; i < n_seq && next < n_requests; i++) {
            if (slots[i].request >= 0) continue;
            const dl_request *rq = &requests[next];
            dl_result *r = &results[next];
            r->prompt_tokens = n_prefix + rq->n_tokens;
            if (rq->n_tokens < 1 || rq->n_tokens + s->max_tokens > e->params.n_ctx_seq) {
                r->finish = DL_FINISH_ERROR;
                r->text = calloc(1, 1);
                set_error(r->error, sizeof(r->error),
                          "prompt of %d tokens and %d to generate do not fit the context of %d per sequence",
                          rq->n_tokens, s->max_tokens, e->params.n_ctx_seq);
                next++;
                i--;
                continue;
            }
            struct llama_sampler *sampler = make_sampler(e, s, rq->seed, r->error, sizeof(r->error));
            if (!sampler) {
                r->finish = DL_FINISH_ERROR;
                r->text = calloc(1, 1);
                next++;
                i--;
                continue;
            }
            slot *sl = &slots[i];
            memset(sl, 0, sizeof(*sl));
            sl->request = next++;
            sl->sampler = sampler;
            sl->pos = n_prefix;
            sl->logits_index = -1;
            llama_memory_seq_rm(mem, i, -1, -1);
            if (n_prefix > 0) llama_memory_seq_cp(mem, e->prefix_seq, i, -1, -1);
            active++;
        }
        if (active == 0) break;

        // One token for every generating sequence, then prompt tokens while there is room.
        batch_clear(&e->batch);
        for (int32_t i = 0; i < n_seq; i++) {
            slot *sl = &slots[i];
            sl->logits_index = -1;
            if (sl->request < 0 || sl->fed < requests[sl->request].n_tokens) continue;
            sl->logits_index = e->batch.n_tokens;
            batch_add(&e->batch, sl->last, sl->pos++, i, true);
        }
        for (int32_t i = 0; i < n_seq && e->batch.n_tokens < e->params.n_batch; i++) {
            slot *sl = &slots[i];
            if (sl->request < 0) continue;
            const dl_request *rq = &requests[sl->request];
            while (sl->fed < rq->n_tokens && e->batch.n_tokens < e->params.n_batch) {
                bool last = sl->fed == rq->n_tokens - 1;
                if (last) sl->logits_index = e->batch.n_tokens;
                batch_add(&e->batch, rq->tokens[sl->fed], sl->pos++, i, last);
                sl->fed++;
                if (stats) stats->prompt_tokens_decoded += 1;
            }
        }
        if (decode(e, stats, error, error_len) != 0) {
            status = -1;
            break;
        }

        // Sample for every sequence whose logits came out.
        for (int32_t i = 0; i < n_seq; i++) {
            slot *sl = &slots[i];
            if (sl->request < 0 || sl->logits_index < 0) continue;
            llama_token token = llama_sampler_sample(sl->sampler, e->ctx, sl->logits_index);
            int32_t finish = -1;
            if (!s->ignore_eos && llama_vocab_is_eog(e->vocab, token)) {
                finish = (s->grammar && s->grammar[0]) ? DL_FINISH_GRAMMAR : DL_FINISH_STOP;
            } else {
                sl->generated++;
                if (stats) stats->tokens_generated += 1;
                int32_t n = llama_token_to_piece(e->vocab, token, piece, sizeof(piece), 0, false);
                if (n > 0) {
                    append(sl, piece, n);
                    if (cut_at_stop(sl, n, s)) finish = DL_FINISH_STOP;
                }
                if (finish < 0 && sl->generated >= s->max_tokens) finish = DL_FINISH_LENGTH;
                sl->last = token;
            }
            if (finish >= 0) {
                finish_slot(sl, results, finish);
                llama_memory_seq_rm(mem, i, -1, -1);
                active--;
            }
        }
    }
    for (int32_t i = 0; i < n_seq; i++) {
        if (slots[i].request >= 0) {
            llama_sampler_free(slots[i].sampler);
            free(slots[i].text);
        }
    }
    free(slots);
    for (int32_t i = 0; i < n_requests; i++) {
        if (!results[i].text) {
            results[i].text = calloc(1, 1);
            results[i].finish = DL_FINISH_ERROR;
            set_error(results[i].error, sizeof(results[i].error), "%s", error && error[0] ? error : "not decoded");
        }
    }
    reset_memory(e);
    return status;
}

static void dl_free_result(dl_result *r) {
    free(r->text);
    r->text = NULL;
}

// MARK: - scores and embeddings

/// log p(target) from a row of logits: logit - logsumexp.
static double token_logprob(const float *logits, int32_t n_vocab, llama_token target) {
    float max = logits[0];
    for (int32_t v = 1; v < n_vocab; v++)
        if (logits[v] > max) max = logits[v];
    double sum = 0;
    for (int32_t v = 0; v < n_vocab; v++) sum += exp((double)(logits[v] - max));
    return (double)(logits[target] - max) - log(sum);
}

/// Decodes whole sequences, up to n_seq at a time, packing their tokens into batches; calls `each` on every
/// output row (sequence, position of the token whose logits/embedding came out).
typedef struct feed {
    int32_t seq;   // which request
    int32_t fed;   // tokens given
} feed;

static int32_t dl_score_sequences(dl_engine *e, const dl_request *seqs, int32_t n, dl_score *scores,
                                  float *token_logprobs, dl_call_stats *stats, char *error, size_t error_len) {
    const int32_t n_seq = e->params.n_seq, n_vocab = llama_vocab_n_tokens(e->vocab);
    memset(scores, 0, sizeof(dl_score) * (size_t)n);
    reset_memory(e);
    llama_memory_t mem = llama_get_memory(e->ctx);
    int64_t *offsets = calloc((size_t)(n > 0 ? n : 1), sizeof(int64_t));
    for (int32_t i = 1; i < n; i++) offsets[i] = offsets[i - 1] + (seqs[i - 1].n_tokens > 0 ? seqs[i - 1].n_tokens - 1 : 0);
    feed *slots = calloc((size_t)n_seq, sizeof(feed));
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)e->params.n_batch * 2);
    for (int32_t i = 0; i < n_seq; i++) slots[i].seq = -1;
    int32_t next = 0, active = 0, status = 0;
    for (;;) {
        for (int32_t i = 0; i < n_seq && next < n; i++) {
            if (slots[i].seq >= 0) continue;
            if (seqs[next].n_tokens > e->params.n_ctx_seq) {
                set_error(scores[next].error, sizeof(scores[next].error), "%d tokens do not fit the context of %d",
                          seqs[next].n_tokens, e->params.n_ctx_seq);
                next++;
                i--;
                continue;
            }
            slots[i].seq = next++;
            slots[i].fed = 0;
            llama_memory_seq_rm(mem, i, -1, -1);
            active++;
        }
        if (active == 0) break;
        batch_clear(&e->batch);
        for (int32_t i = 0; i < n_seq && e->batch.n_tokens < e->params.n_batch; i++) {
            feed *f = &slots[i];
            if (f->seq < 0) continue;
            const dl_request *rq = &seqs[f->seq];
            while (f->fed < rq->n_tokens && e->batch.n_tokens < e->params.n_batch) {
                bool out = f->fed + 1 < rq->n_tokens; // the last token predicts nothing we score
                rows[e->batch.n_tokens] = out ? f->fed : -1;
                batch_add(&e->batch, rq->tokens[f->fed], f->fed, i, out);
                f->fed++;
            }
        }
        if (stats) stats->prompt_tokens_decoded += e->batch.n_tokens;
        if (decode(e, stats, error, error_len) != 0) {
            status = -1;
            break;
        }
        for (int32_t b = 0; b < e->batch.n_tokens; b++) {
            if (rows[b] < 0) continue;
            int32_t i = e->batch.seq_id[b][0];
            const dl_request *rq = &seqs[slots[i].seq];
            const float *logits = llama_get_logits_ith(e->ctx, b);
            dl_score *sc = &scores[slots[i].seq];
            double lp = token_logprob(logits, n_vocab, rq->tokens[rows[b] + 1]);
            sc->logprob_sum += lp;
            sc->scored_tokens++;
            if (token_logprobs) token_logprobs[offsets[slots[i].seq] + rows[b]] = (float)lp;
        }
        for (int32_t i = 0; i < n_seq; i++) {
            if (slots[i].seq >= 0 && slots[i].fed >= seqs[slots[i].seq].n_tokens) {
                llama_memory_seq_rm(mem, i, -1, -1);
                slots[i].seq = -1;
                active--;
            }
        }
    }
    free(rows);
    free(slots);
    free(offsets);
    reset_memory(e);
    return status;
}

static int32_t dl_embed(dl_engine *e, const dl_request *seqs, int32_t n, float *out, dl_call_stats *stats, char *error,
                        size_t error_len) {
    if (!e->params.embeddings) {
        set_error(error, error_len, "the engine was not opened for embeddings");
        return -1;
    }
    const int32_t n_embd = llama_model_n_embd(e->model);
    // Mean pooling needs a sequence whole in one decode: pack whole sequences into each batch.
    int32_t i = 0;
    while (i < n) {
        reset_memory(e);
        batch_clear(&e->batch);
        int32_t first = i, used = 0;
        while (i < n && used < e->params.n_seq) {
            const dl_request *rq = &seqs[i];
            if (rq->n_tokens > e->params.n_batch || rq->n_tokens > e->params.n_ctx_seq || rq->n_tokens < 1) {
                set_error(error, error_len, "a text of %d tokens does not fit a batch of %d", rq->n_tokens,
                          e->params.n_batch);
                return -1;
            }
            if (e->batch.n_tokens + rq->n_tokens > e->params.n_batch) break;
            for (int32_t t = 0; t < rq->n_tokens; t++) batch_add(&e->batch, rq->tokens[t], t, used, true);
            used++;
            i++;
        }
        if (stats) stats->prompt_tokens_decoded += e->batch.n_tokens;
        if (decode(e, stats, error, error_len) != 0) return -1;
        for (int32_t k = 0; k < used; k++) {
            const float *v = llama_get_embeddings_seq(e->ctx, k);
            if (!v) {
                set_error(error, error_len, "no pooled embedding for sequence %d", k);
                return -1;
            }
            memcpy(out + (size_t)(first + k) * (size_t)n_embd, v, sizeof(float) * (size_t)n_embd);
        }
    }
    reset_memory(e);
    return 0;
}

static const dl_api api = {
    .abi_version = DL_ABI_VERSION,
    .llama_version = dl_llama_version,
    .open = dl_open,
    .close = dl_close,
    .meta = dl_meta,
    .n_vocab = dl_n_vocab,
    .n_embd = dl_n_embd,
    .n_ctx_train = dl_n_ctx_train,
    .tokenize = dl_tokenize,
    .token_bytes = dl_token_bytes,
    .chat_template = dl_chat_template,
    .check_grammar = dl_check_grammar,
    .generate = dl_generate,
    .free_result = dl_free_result,
    .score = dl_score_sequences,
    .embed = dl_embed,
};

const dl_api *darwin_llama_api(void) { return &api; }
