// darwin's engine on llama.cpp: the interface between darwin (Swift) and libdarwin-llama.so.
//
// libdarwin-llama.so is built by scripts/build-llama against the pinned llama.cpp and exports one symbol,
// `darwin_llama_api`, returning a table of the functions below. darwin loads it at run time (dlopen), so
// nothing that needs no model links against llama.cpp. The table carries DL_ABI_VERSION; a library built
// from another version of this header is refused.
#ifndef DARWIN_LLAMA_H
#define DARWIN_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DL_ABI_VERSION 4

typedef struct dl_engine dl_engine;

/// How an engine is opened: one model, one context shared by `n_seq` sequences.
typedef struct dl_engine_params {
    const char *model_path;
    int32_t n_seq;        // sequences decoded together (parallel slots)
    int32_t n_ctx_seq;    // tokens of context per sequence (prompt + answer, or one scored window)
    int32_t n_prefix_max; // tokens reserved for a shared prompt prefix (0: none)
    int32_t n_batch;      // most tokens given to one llama_decode
    int32_t n_threads;
    int32_t embeddings;   // 1: a context that returns mean-pooled hidden states instead of logits
} dl_engine_params;

/// The sampling of one generation call (shared by its requests).
typedef struct dl_sampling {
    float temperature;    // 0: greedy
    int32_t top_k;        // 0: off
    float top_p;          // 1: off
    float min_p;          // 0: off
    float repeat_penalty; // 1: off
    int32_t repeat_last_n;
    int32_t max_tokens;
    int32_t ignore_eos;   // benchmarks: always generate max_tokens
    const char *grammar;  // GBNF, root rule `root`; NULL: none
    const char *const *stop;
    int32_t n_stop;
} dl_sampling;

/// One generation request: its own tokens, decoded after the shared prefix, and its sampling seed.
typedef struct dl_request {
    const int32_t *tokens;
    int32_t n_tokens;
    uint32_t seed;
} dl_request;

enum dl_finish {
    DL_FINISH_STOP = 0,    // end of generation token, or a stop string (cut off)
    DL_FINISH_LENGTH = 1,  // max_tokens reached
    DL_FINISH_GRAMMAR = 2, // the grammar was complete
    DL_FINISH_ERROR = 3,   // see `error`
};

/// The answer to one request. `text` is malloc'ed (free with `free_result`).
typedef struct dl_result {
    char *text;
    int32_t text_len;
    int32_t finish;
    int32_t prompt_tokens;     // prefix + request tokens
    int32_t completion_tokens;
    char error[200];
} dl_result;

/// Log-probability of one sequence of tokens: the sum over every token but the first of
/// log p(token | tokens before it).
typedef struct dl_score {
    double logprob_sum;
    int32_t scored_tokens;
    char error[200];
} dl_score;

/// Counters of one call, for statistics.
typedef struct dl_call_stats {
    int64_t prompt_tokens_decoded; // tokens actually evaluated (the prefix once, then each request)
    int64_t tokens_generated;
    int64_t decode_calls;
    double decode_seconds;
} dl_call_stats;

typedef struct dl_api {
    int32_t abi_version;
    const char *(*llama_version)(void);

    dl_engine *(*open)(const dl_engine_params *params, char *error, size_t error_len);
    void (*close)(dl_engine *engine);

    /// GGUF metadata value (e.g. `tokenizer.chat_template`, `general.name`); length or -1.
    int32_t (*meta)(dl_engine *engine, const char *key, char *buf, size_t buf_len);
    int32_t (*n_vocab)(dl_engine *engine);
    int32_t (*n_embd)(dl_engine *engine);
    int32_t (*n_ctx_train)(dl_engine *engine);

    /// Tokens of `text` (length, or minus the length needed when `max` is too small).
    int32_t (*tokenize)(dl_engine *engine, const char *text, int32_t text_len, int32_t *tokens, int32_t max,
                        int32_t add_bos, int32_t parse_special);
    /// UTF-8 bytes of the text the tokens stand for (special tokens count as none).
    int64_t (*token_bytes)(dl_engine *engine, const int32_t *tokens, int32_t n);
    /// The model's chat template applied to messages; length (may exceed buf_len: call again), -1 on error.
    int32_t (*chat_template)(dl_engine *engine, const char *const *roles, const char *const *contents,
                             int32_t n_messages, int32_t add_assistant, char *buf, int32_t buf_len);
    /// Checks a GBNF grammar; 0 when it parses.
    int32_t (*check_grammar)(dl_engine *engine, const char *grammar);

    /// Generates an answer for every request: `prefix` is decoded once into its own sequence and copied to
    /// each request's sequence; up to n_seq requests decode together and a finished one makes room for the
    /// next at once. Returns 0, or -1 with `error` set when the engine itself failed.
    int32_t (*generate)(dl_engine *engine, const int32_t *prefix, int32_t n_prefix, const dl_request *requests,
                        int32_t n_requests, const dl_sampling *sampling, dl_result *results, dl_call_stats *stats,
                        char *error, size_t error_len);
    void (*free_result)(dl_result *result);

    /// Log-probabilities of token sequences (each at most n_ctx_seq tokens), decoded together. When
    /// `token_logprobs` is given, it receives log p(token j | tokens before) of every token but the first of
    /// each sequence, sequence after sequence (n_tokens - 1 values each).
    int32_t (*score)(dl_engine *engine, const dl_request *sequences, int32_t n, dl_score *scores,
                     float *token_logprobs, dl_call_stats *stats, char *error, size_t error_len);

    /// Mean-pooled embeddings (n × n_embd floats) of token sequences; needs an engine opened with embeddings.
    int32_t (*embed)(dl_engine *engine, const dl_request *sequences, int32_t n, float *out, dl_call_stats *stats,
                     char *error, size_t error_len);
} dl_api;

/// The one symbol libdarwin-llama.so exports.
const dl_api *darwin_llama_api(void);

/// Loads libdarwin-llama.so from `path` (dlopen) and returns its table, or NULL with `error` set.
const dl_api *dl_load(const char *path, char *error, size_t error_len);

#ifdef __cplusplus
}
#endif

#endif
