#define _GNU_SOURCE
// Main-content extraction from HTML on libxml2's parser.
//
// One parse, then four walks over the tree:
//   1. measure: every element gets its tag, visible text bytes, link text bytes and the text it holds
//      through inline children; scripts, styles, forms controls and hidden elements are cut;
//   2. prune: boilerplate by tag (nav, aside, footer, …), ARIA role and class/id words is cut, unless the
//      element holds most of the page's text with few links (a wrapper named after its sidebar);
//   3. score: every block with a paragraph of text gives points to its parent, grandparent and
//      great-grandparent (more for longer text and more commas); containers start from their tag and
//      class words; a candidate's score shrinks with its link density;
//   4. render: the best candidate (and its siblings that look like content) as Markdown-like text —
//      headings, paragraphs, lists, pipe tables, fenced code and LaTeX math — skipping link lists.

#include "darwin_html.h"

#include "darwin_buffer.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Tags

enum tag {
    T_OTHER = 0, T_A, T_ABBR, T_ADDRESS, T_ARTICLE, T_ASIDE, T_AUDIO, T_B, T_BLOCKQUOTE, T_BODY, T_BR, T_BUTTON,
    T_CANVAS, T_CAPTION, T_CENTER, T_CITE, T_CODE, T_DD, T_DEL, T_DETAILS, T_DFN, T_DIALOG, T_DIV, T_DL, T_DT,
    T_EM, T_EMBED, T_FIELDSET, T_FIGCAPTION, T_FIGURE, T_FONT, T_FOOTER, T_FORM, T_H1, T_H2, T_H3, T_H4, T_H5,
    T_H6, T_HEAD, T_HEADER, T_HR, T_HTML, T_I, T_IFRAME, T_IMG, T_INPUT, T_INS, T_KBD, T_LABEL, T_LI, T_LINK,
    T_MAIN, T_MARK, T_MATH, T_MENU, T_META, T_NAV, T_NOSCRIPT, T_OBJECT, T_OL, T_OPTION, T_P, T_PICTURE, T_PRE,
    T_Q, T_S, T_SAMP, T_SCRIPT, T_SECTION, T_SELECT, T_SMALL, T_SOURCE, T_SPAN, T_STRIKE, T_STRONG, T_STYLE,
    T_SUB, T_SUMMARY, T_SUP, T_SVG, T_TABLE, T_TBODY, T_TD, T_TEMPLATE, T_TEXTAREA, T_TFOOT, T_TH, T_THEAD,
    T_TIME, T_TITLE, T_TR, T_TT, T_U, T_UL, T_VAR, T_VIDEO, T_WBR, T_COUNT
};

static const char *const tag_names[T_COUNT] = {
    "", "a", "abbr", "address", "article", "aside", "audio", "b", "blockquote", "body", "br", "button",
    "canvas", "caption", "center", "cite", "code", "dd", "del", "details", "dfn", "dialog", "div", "dl", "dt",
    "em", "embed", "fieldset", "figcaption", "figure", "font", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "head", "header", "hr", "html", "i", "iframe", "img", "input", "ins", "kbd", "label", "li", "link",
    "main", "mark", "math", "menu", "meta", "nav", "noscript", "object", "ol", "option", "p", "picture", "pre",
    "q", "s", "samp", "script", "section", "select", "small", "source", "span", "strike", "strong", "style",
    "sub", "summary", "sup", "svg", "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead",
    "time", "title", "tr", "tt", "u", "ul", "var", "video", "wbr",
};

#define TAG_HASH_SIZE 512
static uint8_t tag_hash[TAG_HASH_SIZE];

static unsigned hash_name(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void tag_hash_init(void) {
    for (int t = 1; t < T_COUNT; t++) {
        unsigned h = hash_name(tag_names[t]) & (TAG_HASH_SIZE - 1);
        while (tag_hash[h]) h = (h + 1) & (TAG_HASH_SIZE - 1);
        tag_hash[h] = (uint8_t)t;
    }
}

static int tag_of(const xmlChar *name) {
    if (!name) return T_OTHER;
    unsigned h = hash_name((const char *)name) & (TAG_HASH_SIZE - 1);
    while (tag_hash[h]) {
        if (strcmp(tag_names[tag_hash[h]], (const char *)name) == 0) return tag_hash[h];
        h = (h + 1) & (TAG_HASH_SIZE - 1);
    }
    return T_OTHER;
}

/// Elements whose content is never text.
static int is_dropped_tag(int t) {
    switch (t) {
    case T_SCRIPT: case T_STYLE: case T_NOSCRIPT: case T_TEMPLATE: case T_IFRAME: case T_OBJECT: case T_EMBED:
    case T_SVG: case T_CANVAS: case T_VIDEO: case T_AUDIO: case T_SOURCE: case T_BUTTON: case T_INPUT: case T_FIGCAPTION:
    case T_SELECT: case T_OPTION: case T_TEXTAREA: case T_LINK: case T_META: case T_HEAD: case T_TITLE:
    case T_DIALOG:
        return 1;
    default:
        return 0;
    }
}

/// Elements that flow inside a line of text.
static int is_inline(int t) {
    switch (t) {
    case T_A: case T_ABBR: case T_B: case T_CITE: case T_CODE: case T_DEL: case T_DFN: case T_EM: case T_FONT:
    case T_I: case T_IMG: case T_INS: case T_KBD: case T_LABEL: case T_MARK: case T_Q: case T_S: case T_SAMP:
    case T_SMALL: case T_SPAN: case T_STRIKE: case T_STRONG: case T_SUB: case T_SUP: case T_TIME: case T_TT:
    case T_U: case T_VAR: case T_WBR: case T_BR: case T_MATH: case T_PICTURE:
        return 1;
    default:
        return 0;
    }
}

static int is_heading(int t) { return t >= T_H1 && t <= T_H6; }

// MARK: - Per-element facts

enum {
    F_REMOVED = 1,     // cut: not text
    F_SCORED = 2,      // initialised as a candidate
    F_MATH_TEX = 4,    // <script type="math/tex">
    F_DISPLAY = 8,     // display math
    F_DEEP = 16,       // below max_depth
    F_IN_ARTICLE = 32, // inside <article> or <main>
    F_CLASS_FURNITURE = 64,  // class/id words of page furniture
    F_CLASS_CONTENT = 128,   // class/id words of content
    F_ROLE_FURNITURE = 256,  // an ARIA role of furniture
    F_COMMENTS = 512,        // a comment section
    F_ARTICLE_BODY = 1024,   // itemprop articleBody / text
    F_VERDICT = 2048,        // class/id words looked at
};

typedef struct {
    uint32_t text;   // visible text bytes (no whitespace) in the subtree
    uint32_t link;   // of which inside links
    uint32_t links;  // number of links
    uint32_t inline_text; // text reachable through inline children only (a paragraph's own text)
    uint32_t commas;
    uint32_t inline_link; // of inline_text, inside links
    uint32_t prose;       // text of paragraphs (blocks with enough own text, few links) in the subtree
    uint16_t tag;
    uint16_t flags;
    float score;
    const char *cls, *id;  // attribute values, owned by the tree
} info_t;

static int class_verdict_of(const char *cls, const char *id);
static int role_is_furniture_value(const char *r);
static int comments_named(const char *cls, const char *id);

typedef struct {
    const dh_options *o;
    info_t *info;
    size_t count, cap;
    size_t page_text;
    size_t page_prose;
    int depth_capped, has_math, has_code, has_table;
} ctx_t;

static info_t *I(ctx_t *c, xmlNodePtr n) {
    uintptr_t i = (uintptr_t)n->_private;
    return i ? &c->info[i - 1] : NULL;
}

static info_t *attach(ctx_t *c, xmlNodePtr n) {
    if (c->count == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->info = realloc(c->info, c->cap * sizeof(info_t));
    }
    memset(&c->info[c->count], 0, sizeof(info_t));
    n->_private = (void *)(uintptr_t)(++c->count);
    return &c->info[c->count - 1];
}

/// The first element from `k` on (k or a later sibling) that was not cut; NULL at the end.
static xmlNodePtr kept_from(ctx_t *c, xmlNodePtr k) {
    for (; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE) continue;
        info_t *i = I(c, k);
        if (i && !(i->flags & F_REMOVED)) return k;
    }
    return NULL;
}

/// Every child element of `parent` that was not cut.
#define FOR_KEPT(c, k, parent) for (xmlNodePtr k = kept_from((c), (parent)->children); k; k = kept_from((c), k->next))

static int is_space_at(const unsigned char *s, size_t i, size_t n, size_t *width) {
    unsigned char b = s[i];
    if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v') {
        *width = 1;
        return 1;
    }
    if (b == 0xC2 && i + 1 < n && s[i + 1] == 0xA0) {  // NBSP
        *width = 2;
        return 1;
    }
    if (b == 0xE2 && i + 2 < n && s[i + 1] == 0x80 && (s[i + 2] >= 0x80 && s[i + 2] <= 0x8B)) {  // U+2000–200B
        *width = 3;
        return 1;
    }
    if (b == 0xE3 && i + 2 < n && s[i + 1] == 0x80 && s[i + 2] == 0x80) {  // ideographic space
        *width = 3;
        return 1;
    }
    *width = 1;
    return 0;
}

static void count_text(const xmlChar *content, uint32_t *bytes, uint32_t *commas) {
    if (!content) return;
    const unsigned char *s = content;
    uint32_t b = 0, c = 0;
    size_t i = 0, w;
    for (;;) {
        unsigned char ch = s[i];
        if (ch == 0) break;
        if (ch < 0x80) {
            // ASCII: spaces are not counted, commas are counted twice over.
            if (ch > ' ') {
                b++;
                c += ch == ',';
            } else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\f' && ch != '\v') {
                b++;
            }
            i++;
            continue;
        }
        // No length needed: the string is NUL-terminated and a match reads a byte only after non-NUL ones.
        if (is_space_at(s, i, SIZE_MAX, &w)) {
            i += w;
            continue;
        }
        // ，、。 count as commas too (CJK punctuation).
        if (ch == 0xEF && s[i + 1] == 0xBC && s[i + 2] == 0x8C) c++;
        if (ch == 0xE3 && s[i + 1] == 0x80 && (s[i + 2] == 0x81 || s[i + 2] == 0x82)) c++;
        b++;
        i++;
    }
    *bytes += b;
    *commas += c;
}

static const char *attr(xmlNodePtr n, const char *name) {
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        if (a->name && strcmp((const char *)a->name, name) == 0) {
            if (a->children && a->children->type == XML_TEXT_NODE) return (const char *)a->children->content;
            return "";
        }
    }
    return NULL;
}

static int contains_ci(const char *hay, const char *needle) {
    if (!hay) return 0;
    size_t m = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t k = 0;
        while (k < m && p[k] && (p[k] | 0x20) == needle[k]) k++;
        if (k == m) return 1;
    }
    return 0;
}

/// display:none / visibility:hidden in a style attribute (spaces ignored).
static int style_hides(const char *style) {
    if (!style) return 0;
    char buf[256];
    size_t k = 0;
    for (const char *p = style; *p && k + 1 < sizeof buf; p++) {
        if (*p != ' ' && *p != '\t') buf[k++] = (char)(*p | ((*p >= 'A' && *p <= 'Z') ? 0x20 : 0));
    }
    buf[k] = 0;
    return strstr(buf, "display:none") != NULL || strstr(buf, "visibility:hidden") != NULL;
}

static int is_math_script(xmlNodePtr n, int *display) {
    const char *type = attr(n, "type");
    if (!type || !contains_ci(type, "math/tex")) return 0;
    *display = contains_ci(type, "mode=display");
    return 1;
}

/// Pass 1: facts of every element, bottom-up; cuts non-text elements.
static void measure(ctx_t *c, xmlNodePtr n, int depth, int in_article, int in_link) {
    info_t *me = attach(c, n);
    int t = tag_of(n->name);
    uint32_t child_prose = 0;
    me->tag = (uint16_t)t;
    if (in_article) me->flags |= F_IN_ARTICLE;
    if (depth > c->o->max_depth) {
        me->flags |= F_REMOVED | F_DEEP;
        c->depth_capped = 1;
        return;
    }
    int display = 0;
    if (t == T_SCRIPT && is_math_script(n, &display)) {
        me->flags |= F_MATH_TEX | (display ? F_DISPLAY : 0);
        for (xmlNodePtr k = n->children; k; k = k->next) {
            if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE)
                count_text(k->content, &me->text, &me->commas);
        }
        me->inline_text = me->text;
        return;
    }
    int swallowing = 0;  // a dropped element the parser may have filled with the rest of the page
    if (is_dropped_tag(t)) {
        if (t == T_SCRIPT || t == T_STYLE || t == T_HEAD || t == T_TITLE || t == T_META || t == T_LINK) {
            me->flags |= F_REMOVED;
            return;
        }
        swallowing = 1;
    }
    // One pass over the attributes: hidden, class and id words, role, itemprop.
    const char *cls = NULL, *id = NULL, *role = NULL;
    int hidden = 0;
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        const char *name = (const char *)a->name;
        const char *value = a->children && a->children->type == XML_TEXT_NODE ? (const char *)a->children->content : "";
        if (!name) continue;
        switch (name[0]) {
        case 'c': if (strcmp(name, "class") == 0) cls = value; break;
        case 'i':
            if (name[1] == 'd' && name[2] == 0) id = value;
            else if (strcmp(name, "itemprop") == 0 && (strstr(value, "articleBody") || strcmp(value, "text") == 0))
                me->flags |= F_ARTICLE_BODY;
            break;
        case 'h': if (strcmp(name, "hidden") == 0) hidden = 1; break;
        case 'a': if (strcmp(name, "aria-hidden") == 0 && strcmp(value, "true") == 0) hidden = 1; break;
        case 's': if (strcmp(name, "style") == 0 && style_hides(value)) hidden = 1; break;
        case 'r': if (strcmp(name, "role") == 0) role = value; break;
        default: break;
        }
    }
    if (hidden && t != T_BODY && t != T_HTML && !swallowing) {
        me->flags |= F_REMOVED;
        return;
    }
    me->cls = cls;
    me->id = id;
    if (role && role_is_furniture_value(role)) me->flags |= F_ROLE_FURNITURE;
    if (t == T_MATH) {
        const char *d = attr(n, "display");
        if (d && strcmp(d, "block") == 0) me->flags |= F_DISPLAY;
    }
    int article = in_article || t == T_ARTICLE || t == T_MAIN;
    int link = in_link || t == T_A;
    if (t == T_A) me->links = 1;
    for (xmlNodePtr k = n->children; k; k = k->next) {
        if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
            uint32_t b = 0;
            count_text(k->content, &b, &me->commas);
            me->text += b;
            me->inline_text += b;
            if (link) {
                me->link += b;
                me->inline_link += b;
            }
        } else if (k->type == XML_ELEMENT_NODE) {
            measure(c, k, depth + 1, article, link);
            info_t *ki = I(c, k);
            me = I(c, n);  // the array may have moved
            if (ki->flags & F_REMOVED) continue;
            me->text += ki->text;
            me->link += ki->link;
            me->links += ki->links;
            child_prose += ki->prose;
            if (is_inline(ki->tag) || (ki->flags & F_MATH_TEX)) {
                me->inline_text += ki->inline_text;
                me->inline_link += ki->inline_link;
                me->commas += ki->commas;
            }
        }
    }
    me->prose = child_prose;
    if (!is_inline(t) && me->inline_text >= 60 && me->inline_link * 3 < me->inline_text) me->prose += me->inline_text;
    // <noscript>, <iframe>, <button>, … hold no text, unless an unclosed one swallowed the page's prose
    // (libxml2 nests what follows an unclosed element inside it): then it is read like a <div>.
    if (swallowing && me->prose < 300) me->flags |= F_REMOVED;
}

// MARK: - Pass 2: boilerplate

/// Class or id words that mark navigation, widgets and other page furniture wherever they appear.
static const char *const strong_words[] = {
    "comment", "cookie", "consent", "gdpr", "share", "sharing", "social", "newsletter", "breadcrumb",
    "sidebar", "footer", "related", "navbar", "navigation", "subscribe", "signup", "sign-up", "advert",
    "sponsor", "pagination", "skip-link", "skiplink", "toolbar", "masthead", "disqus", "outbrain", "taboola",
    "recommend", "author-box", "authorbox", "postmeta", "post-meta", "entry-meta", "article-meta", "byline",
    "tagcloud", "tag-cloud", "post-tags", "entry-tags", "widget_", "shariff", "addthis", "print-link",
    "most-read", "mostread", "mostpopular", "most-popular", "teaser-list", "newsticker", "further-reading",
};

/// Strong words that count only as a whole word (or its plural): "pager" is not "pagerow".
static const char *const strong_whole_words[] = {
    "popup", "modal", "pager", "login", "promo", "trending", "categories",
};

/// Whole class or id tokens that mark furniture unless a content word is beside them.
static const char *const weak_tokens[] = {
    "nav", "menu", "banner", "meta", "tags", "tag", "date", "author", "rss",
    "search", "toc", "aside", "extra", "secondary", "links", "copyright", "legal", "imprint",
    "impressum", "contact", "teaser", "caption", "credit", "credits", "info", "infobox", "rating", "vote",
    "sr-only", "visually-hidden", "screen-reader-text", "offscreen", "dropdown", "overlay",
};

static const char *const content_tokens[] = {
    "article", "content", "entry", "post", "main", "body", "text", "story", "blog", "page", "single",
};

static int token_in(const char *s, size_t len, const char *const *list, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (list[i][0] == s[0] && strncmp(list[i], s, len) == 0 && list[i][len] == 0) return 1;
    }
    return 0;
}

/// Letters that start a strong word (bit per letter a–z).
static uint32_t strong_initials;

static void initials_init(void);
static void tag_hash_init(void);
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static void init_tables(void) {
    xmlInitParser();  // libxml2's globals, once, before threads parse
    tag_hash_init();
    initials_init();
}

static void initials_init(void) {
    uint32_t m = 0;
    for (size_t i = 0; i < sizeof strong_words / sizeof *strong_words; i++) m |= 1u << (strong_words[i][0] - 'a');
    for (size_t i = 0; i < sizeof strong_whole_words / sizeof *strong_whole_words; i++)
        m |= 1u << (strong_whole_words[i][0] - 'a');
    strong_initials = m;
}

/// -1: looks like content; 1: looks like furniture; 0: neither.
static int class_verdict_of(const char *cls, const char *id) {
    char buf[512];
    size_t k = 0;
    const char *parts[2] = {cls, id};
    for (int p = 0; p < 2; p++) {
        if (!parts[p]) continue;
        for (const char *s = parts[p]; *s && k + 2 < sizeof buf; s++) {
            char ch = *s;
            buf[k++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch | 0x20) : ch;
        }
        buf[k++] = ' ';
    }
    buf[k] = 0;
    if (k == 0) return 0;
    // Strong words at the start of a word of the names ("comments", "post-comments", "sidebar-right"; not
    // "apageroot" for "pager"); whole-word ones also end there (or with a plural s).
    for (size_t p = 0; p < k; p++) {
        char ch = buf[p];
        if (!(ch >= 'a' && ch <= 'z') || !(strong_initials & (1u << (ch - 'a')))) continue;
        if (p > 0 && ((buf[p - 1] >= 'a' && buf[p - 1] <= 'z') || (buf[p - 1] >= '0' && buf[p - 1] <= '9'))) continue;
        for (size_t i = 0; i < sizeof strong_words / sizeof *strong_words; i++) {
            const char *w = strong_words[i];
            if (w[0] != ch || strncmp(buf + p, w, strlen(w)) != 0) continue;
            if (strncmp(buf + p, "commentary", 10) == 0) continue;  // an opinion piece is content
            return 1;
        }
        for (size_t i = 0; i < sizeof strong_whole_words / sizeof *strong_whole_words; i++) {
            const char *w = strong_whole_words[i];
            size_t m = strlen(w);
            if (w[0] != ch || strncmp(buf + p, w, m) != 0) continue;
            const char *after = buf + p + m;
            if (*after == 's') after++;
            if (!((*after >= 'a' && *after <= 'z') || (*after >= '0' && *after <= '9'))) return 1;
        }
    }
    int weak = 0, content = 0;
    size_t i = 0;
    while (i < k) {
        while (i < k && !((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= '0' && buf[i] <= '9'))) i++;
        size_t start = i;
        while (i < k && ((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= '0' && buf[i] <= '9'))) i++;
        if (i == start) break;
        if (token_in(buf + start, i - start, weak_tokens, sizeof weak_tokens / sizeof *weak_tokens)) weak = 1;
        if (token_in(buf + start, i - start, content_tokens, sizeof content_tokens / sizeof *content_tokens))
            content = 1;
    }
    // Hyphenated names count as their words: "sr-only", "visually-hidden" are whole tokens above.
    if (strstr(buf, "sr-only") || strstr(buf, "visually-hidden") || strstr(buf, "screen-reader")) weak = 1;
    if (weak && !content) return 1;
    if (content) return -1;
    return 0;
}

static int role_is_furniture_value(const char *r) {
    return strcmp(r, "navigation") == 0 || strcmp(r, "banner") == 0 || strcmp(r, "contentinfo") == 0 ||
           strcmp(r, "complementary") == 0 || strcmp(r, "search") == 0 || strcmp(r, "dialog") == 0 ||
           strcmp(r, "alertdialog") == 0 || strcmp(r, "menu") == 0 || strcmp(r, "menubar") == 0;
}

/// Comment sections are prose that is never the content.
static int comments_named(const char *cls, const char *id) {
    const char *parts[2] = {cls, id};
    for (int p = 0; p < 2; p++) {
        if (parts[p] && ((contains_ci(parts[p], "comment") && !contains_ci(parts[p], "commentary")) ||
                         contains_ci(parts[p], "disqus") ||
                         contains_ci(parts[p], "respond")))
            return 1;
    }
    return 0;
}

static void subtract_up(ctx_t *c, xmlNodePtr n, const info_t *gone) {
    for (xmlNodePtr p = n->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
        info_t *pi = I(c, p);
        if (!pi) break;
        pi->text -= gone->text <= pi->text ? gone->text : pi->text;
        pi->link -= gone->link <= pi->link ? gone->link : pi->link;
        pi->links -= gone->links <= pi->links ? gone->links : pi->links;
        pi->prose -= gone->prose <= pi->prose ? gone->prose : pi->prose;
        if (p == n->parent && is_inline(gone->tag)) {
            pi->inline_text -= gone->inline_text <= pi->inline_text ? gone->inline_text : pi->inline_text;
        }
    }
}

/// The class/id verdict of an element, worked out on first use.
static uint16_t verdict(info_t *i) {
    if (!(i->flags & F_VERDICT)) {
        i->flags |= F_VERDICT;
        if (i->cls || i->id) {
            int v = class_verdict_of(i->cls, i->id);
            if (v > 0) i->flags |= F_CLASS_FURNITURE;
            if (v < 0) i->flags |= F_CLASS_CONTENT;
            if (comments_named(i->cls, i->id)) i->flags |= F_COMMENTS;
        }
    }
    return i->flags;
}

static void prune(ctx_t *c, xmlNodePtr n) {
    for (xmlNodePtr k = n->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE) continue;
        info_t *ki = I(c, k);
        if (!ki || (ki->flags & (F_REMOVED | F_MATH_TEX))) continue;
        int t = ki->tag;
        int furniture = 0;
        if (t == T_NAV || t == T_ASIDE || t == T_FOOTER || t == T_MENU) furniture = 1;
        if (t == T_HEADER && !(ki->flags & F_IN_ARTICLE)) furniture = 1;
        if (t == T_FORM && ki->text < 200) furniture = 1;
        if (!furniture && t != T_BODY && t != T_HTML && t != T_ARTICLE && t != T_MAIN) {
            if (verdict(ki) & (F_ROLE_FURNITURE | F_CLASS_FURNITURE)) furniture = 1;
        }
        if (furniture && !(ki->flags & F_COMMENTS)) {
            // A wrapper that holds most of the page's prose is the content's ancestor, whatever its name: look
            // inside it instead.
            if (c->page_prose && ki->prose * 2 >= c->page_prose) furniture = 0;
        }
        if (furniture) {
            ki->flags |= F_REMOVED;
            info_t copy = *ki;
            subtract_up(c, k, &copy);
            continue;
        }
        prune(c, k);
    }
}

// MARK: - Pass 3: scores

static float link_density(const info_t *i) { return i->text ? (float)i->link / (float)i->text : 0.f; }

static void init_candidate(ctx_t *c, xmlNodePtr n) {
    info_t *i = I(c, n);
    if (!i || (i->flags & F_SCORED)) return;
    i->flags |= F_SCORED;
    float s = 0;
    switch (i->tag) {
    case T_DIV: case T_ARTICLE: case T_MAIN: s = 5; break;
    case T_PRE: case T_TD: case T_BLOCKQUOTE: s = 3; break;
    case T_ADDRESS: case T_OL: case T_UL: case T_DL: case T_DD: case T_DT: case T_LI: case T_FORM: s = -3; break;
    case T_TH: s = -5; break;
    default:
        if (is_heading(i->tag)) s = -5;
    }
    if (i->tag == T_ARTICLE || i->tag == T_MAIN) s += 10;
    if (i->flags & F_ARTICLE_BODY) s += 25;
    if (verdict(i) & F_CLASS_CONTENT) s += 25;
    i->score = s;
}

static void score(ctx_t *c, xmlNodePtr n) {
    FOR_KEPT(c, k, n) {
        info_t *ki = I(c, k);
        if (!is_inline(ki->tag) && !(ki->flags & F_MATH_TEX) && ki->inline_text >= 25) {
            float points = 1.f + (float)ki->commas + (ki->inline_text / 100 < 3 ? (float)(ki->inline_text / 100) : 3.f);
            int level = 0;
            for (xmlNodePtr p = k->parent; p && p->type == XML_ELEMENT_NODE && level < 3; p = p->parent, level++) {
                info_t *pi = I(c, p);
                if (!pi || pi->tag == T_HTML) break;
                init_candidate(c, p);
                pi = I(c, p);
                pi->score += points / (level == 0 ? 1.f : level == 1 ? 2.f : (float)(level * 3));
            }
        }
        score(c, k);
    }
}

typedef struct {
    xmlNodePtr node;
    float score;
} cand_t;

static int is_ancestor(xmlNodePtr a, xmlNodePtr n) {
    for (xmlNodePtr p = n; p; p = p->parent)
        if (p == a) return 1;
    return 0;
}

/// Below this share of the prose-richest element's prose, the best-scoring container is a box beside the article.
static const double prose_switch = 0.7;
/// How much other text (menus, labels, short lines) counts against an element's prose.
static const double prose_alpha = 0.3;

/// One walk over the elements left: the `count` best-scoring candidates (score × (1 − link density)), and the
/// block holding the most prose with the least other text (not looked for inside inline elements).
static void candidates(ctx_t *c, xmlNodePtr n, int in_inline, cand_t *top, int count, xmlNodePtr *pick, double *best) {
    FOR_KEPT(c, k, n) {
        info_t *ki = I(c, k);
        if (ki->flags & F_SCORED) {
            float s = ki->score * (1.f - link_density(ki));
            for (int j = 0; j < count; j++) {
                if (!top[j].node || s > top[j].score) {
                    memmove(&top[j + 1], &top[j], (size_t)(count - j - 1) * sizeof(cand_t));
                    top[j].node = k;
                    top[j].score = s;
                    break;
                }
            }
        }
        int inline_here = in_inline || is_inline(ki->tag);
        if (!inline_here && ki->prose > 0) {
            double v = (double)ki->prose - prose_alpha * ((double)ki->text - (double)ki->prose);
            if (ki->tag == T_ARTICLE || ki->tag == T_MAIN || (ki->flags & F_ARTICLE_BODY) ||
                (verdict(ki) & F_CLASS_CONTENT))
                v *= 1.1;
            if (v > *best) {
                *best = v;
                *pick = k;
            }
        }
        candidates(c, k, inline_here, top, count, pick, best);
    }
}

/// The element whose subtree is the page's content (its siblings that read like content are added when rendering).
static xmlNodePtr content_root(ctx_t *c, xmlNodePtr body, const dh_options *o) {
    cand_t top[5] = {{0}};
    xmlNodePtr pick = body;
    double pick_value = -1e18;
    candidates(c, body, 0, top, 5, &pick, &pick_value);
    xmlNodePtr best = top[0].node ? top[0].node : body;
    if (top[0].node) {
        // Strong candidates in several places: their lowest common ancestor is the content (an article split
        // over blocks), unless that is the whole body.
        if (o->favor != DH_PRECISION) {
            float share = o->favor == DH_RECALL ? 0.35f : 0.5f;
            xmlNodePtr common = best;
            for (int j = 1; j < 5; j++) {
                if (!top[j].node || top[j].score < top[0].score * share) continue;
                while (common && !is_ancestor(common, top[j].node)) common = common->parent;
            }
            if (common && common != body && common->type == XML_ELEMENT_NODE) {
                info_t *ci = I(c, common);
                if (ci && link_density(ci) < 0.4f) best = common;
            }
        }
        // Climb while the parent adds prose with few links: an article split over several containers.
        while (o->favor != DH_PRECISION && best != body && best->parent && best->parent != body &&
               best->parent->type == XML_ELEMENT_NODE) {
            info_t *bi = I(c, best), *pi = I(c, best->parent);
            if (!bi || !pi || pi->prose < bi->prose + bi->prose / 4 + 100 || link_density(pi) > 0.4f) break;
            best = best->parent;
        }
        // An only child stands for its parent.
        while (best != body && best->parent && best->parent->type == XML_ELEMENT_NODE && best->parent != body) {
            int siblings = 0;
            FOR_KEPT(c, k, best->parent) if (I(c, k)->text > 0) siblings++;
            if (siblings != 1) break;
            best = best->parent;
        }
    }
    // The prose-richest element instead when the best-scoring container holds little of its prose (a small box
    // with a content-like name beside the article).
    info_t *bi = I(c, best), *pi = I(c, pick);
    if (bi && pi && (double)bi->prose < prose_switch * (double)pi->prose) best = pick;
    // Inside an <article>: the article, with its title and lead, unless it is much more than the content.
    if (best != body && o->favor != DH_PRECISION) {
        bi = I(c, best);
        for (xmlNodePtr p = best->parent; p && p != body && p->type == XML_ELEMENT_NODE; p = p->parent) {
            info_t *ai = I(c, p);
            if (!ai || ai->tag != T_ARTICLE) continue;
            if (bi && ai->prose <= bi->prose + bi->prose / 2 + 500 && link_density(ai) < 0.4f) best = p;
            break;
        }
    }
    return best;
}

// MARK: - Pass 4: rendering

typedef dt_buffer buf_t;

/// Appends to the text; out of memory, the text stops growing (and the page comes out cut).
static void put(buf_t *b, const char *s, size_t n) { (void)dt_buffer_put(b, s, n); }

static void puts_(buf_t *b, const char *s) { put(b, s, strlen(s)); }

typedef struct {
    ctx_t *c;
    buf_t out;
    char prefix[128];  // written at the start of every line: list indentation, "> "
    size_t prefix_len;
    int at_line_start;
    int pending_space;
    int in_pre;
    int no_newlines;  // inside a table cell
    float skip_density; // link lists denser than this are skipped
} render_t;

static void trim_trailing_spaces(render_t *r) {
    while (r->out.n > 0 && r->out.p[r->out.n - 1] == ' ') r->out.n--;
    if (r->out.p) r->out.p[r->out.n] = 0;
}

/// Ends the current line and makes sure `count` line breaks separate what comes next.
static void newline(render_t *r, int count) {
    r->pending_space = 0;
    if (r->no_newlines) {
        r->pending_space = 1;
        return;
    }
    trim_trailing_spaces(r);
    if (r->out.n == 0) {
        r->at_line_start = 1;
        return;
    }
    int have = 0;
    for (size_t i = r->out.n; i > 0 && r->out.p[i - 1] == '\n'; i--) have++;
    while (have < count) {
        put(&r->out, "\n", 1);
        have++;
    }
    r->at_line_start = 1;
}

static void line_start(render_t *r) {
    if (r->at_line_start) {
        if (r->prefix_len) put(&r->out, r->prefix, r->prefix_len);
        r->at_line_start = 0;
        r->pending_space = 0;
    }
}

static void emit_text(render_t *r, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, w;
    while (i < n) {
        if (is_space_at(u, i, n, &w)) {
            r->pending_space = 1;
            i += w;
            continue;
        }
        size_t j = i;
        while (j < n && !is_space_at(u, j, n, &w)) j++;
        if (r->at_line_start) {
            line_start(r);
        } else if (r->pending_space && r->out.n && r->out.p[r->out.n - 1] != ' ') {
            put(&r->out, " ", 1);
        }
        r->pending_space = 0;
        if (r->no_newlines) {
            // Pipes inside a cell would split it.
            for (size_t k = i; k < j; k++) {
                if (s[k] == '|') put(&r->out, "\\|", 2);
                else put(&r->out, s + k, 1);
            }
        } else {
            put(&r->out, s + i, j - i);
        }
        i = j;
    }
}

static void emit_word(render_t *r, const char *s) {
    if (r->at_line_start) line_start(r);
    else if (r->pending_space) put(&r->out, " ", 1);
    r->pending_space = 0;
    puts_(&r->out, s);
}

static void raw_text(ctx_t *c, xmlNodePtr n, buf_t *b) {
    for (xmlNodePtr k = n->children; k; k = k->next) {
        if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
            if (k->content) puts_(b, (const char *)k->content);
        } else if (k->type == XML_ELEMENT_NODE) {
            info_t *ki = I(c, k);
            if (ki && (ki->flags & F_REMOVED)) continue;
            if (ki && ki->tag == T_BR) puts_(b, "\n");
            else raw_text(c, k, b);
            if (ki && (ki->tag == T_DIV || ki->tag == T_P || ki->tag == T_LI || ki->tag == T_TR) &&
                b->n && b->p[b->n - 1] != '\n')
                puts_(b, "\n");
        }
    }
}

/// MathML as LaTeX: the alttext or TeX annotation if there is one, else the text of its leaves.
static void math_latex(ctx_t *c, xmlNodePtr n, buf_t *b) {
    const char *alt = attr(n, "alttext");
    if (alt && *alt) {
        puts_(b, alt);
        return;
    }
    // <annotation encoding="application/x-tex"> anywhere below.
    xmlNodePtr stack[64];
    int sp = 0;
    stack[sp++] = n;
    while (sp) {
        xmlNodePtr x = stack[--sp];
        for (xmlNodePtr k = x->children; k; k = k->next) {
            if (k->type != XML_ELEMENT_NODE) continue;
            if (k->name && strcmp((const char *)k->name, "annotation") == 0) {
                const char *enc = attr(k, "encoding");
                if (enc && contains_ci(enc, "tex")) {
                    buf_t t = {0};
                    raw_text(c, k, &t);
                    if (t.n) {
                        puts_(b, t.p);
                        free(t.p);
                        return;
                    }
                    free(t.p);
                }
            } else if (sp < 64) {
                stack[sp++] = k;
            }
        }
    }
    buf_t t = {0};
    raw_text(c, n, &t);
    // Collapse the whitespace between leaves.
    int space = 0;
    for (size_t i = 0; i < t.n; i++) {
        char ch = t.p[i];
        if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') {
            space = 1;
            continue;
        }
        if (space && b->n && b->p[b->n - 1] != ' ') put(b, " ", 1);
        space = 0;
        put(b, &ch, 1);
    }
    free(t.p);
}

static void render_children(render_t *r, xmlNodePtr n);
static void render(render_t *r, xmlNodePtr n);

static void push_prefix(render_t *r, const char *p, size_t *saved) {
    *saved = r->prefix_len;
    size_t m = strlen(p);
    if (r->prefix_len + m < sizeof r->prefix) {
        memcpy(r->prefix + r->prefix_len, p, m);
        r->prefix_len += m;
    }
}

static void pop_prefix(render_t *r, size_t saved) { r->prefix_len = saved; }

/// Counts the rows and the widest row of `x` (a table, or its thead/tbody/tfoot); 0 when a nested table or a
/// long cell makes it layout.
static int data_rows(ctx_t *c, xmlNodePtr x, int *rows, int *maxcols) {
    FOR_KEPT(c, k, x) {
        int t = I(c, k)->tag;
        if (t == T_TABLE) return 0;
        if (t == T_THEAD || t == T_TBODY || t == T_TFOOT) {
            if (!data_rows(c, k, rows, maxcols)) return 0;
        } else if (t == T_TR) {
            int cols = 0;
            (*rows)++;
            FOR_KEPT(c, cell, k) {
                info_t *ci = I(c, cell);
                if (ci->tag != T_TD && ci->tag != T_TH) continue;
                cols++;
                if (ci->text > 600) return 0;
                FOR_KEPT(c, d, cell) if (I(c, d)->tag == T_TABLE) return 0;
            }
            if (cols > *maxcols) *maxcols = cols;
        }
    }
    return 1;
}

/// A table of short cells in rows is data: rendered as a pipe table. Anything else is layout.
static int is_data_table(ctx_t *c, xmlNodePtr table) {
    int rows = 0, maxcols = 0;
    return data_rows(c, table, &rows, &maxcols) && rows >= 1 && maxcols >= 2;
}

/// One row of a pipe table; after the first, the header separator.
static void render_row(render_t *r, xmlNodePtr tr, int *row) {
    int cols = 0;
    newline(r, 1);
    line_start(r);
    put(&r->out, "|", 1);
    FOR_KEPT(r->c, cell, tr) {
        int t = I(r->c, cell)->tag;
        if (t != T_TD && t != T_TH) continue;
        put(&r->out, " ", 1);
        r->no_newlines++;
        r->pending_space = 0;
        render_children(r, cell);
        r->no_newlines--;
        r->pending_space = 0;
        put(&r->out, " |", 2);
        cols++;
    }
    if ((*row)++ == 0) {
        newline(r, 1);
        line_start(r);
        put(&r->out, "|", 1);
        for (int k = 0; k < (cols ? cols : 1); k++) put(&r->out, " --- |", 6);
    }
}

/// Rows in document order, direct or inside thead/tbody/tfoot; the caption as a line of its own.
static void render_table(render_t *r, xmlNodePtr table) {
    ctx_t *c = r->c;
    c->has_table = 1;
    newline(r, 2);
    int row = 0;
    FOR_KEPT(c, k, table) {
        int t = I(c, k)->tag;
        if (t == T_TR) {
            render_row(r, k, &row);
        } else if (t == T_THEAD || t == T_TBODY || t == T_TFOOT) {
            FOR_KEPT(c, tr, k) if (I(c, tr)->tag == T_TR) render_row(r, tr, &row);
        } else if (t == T_CAPTION) {
            render(r, k);
            newline(r, 1);
        }
    }
    newline(r, 2);
}

/// Paragraphs shorter than this that are mostly one link are "read also" lines.
static const uint32_t link_paragraph_bytes = 150;

static int link_list(render_t *r, const info_t *i) {
    // Blocks that are mostly links (menus, "related articles", tag lists) are not content; a block with
    // paragraphs of prose is looked into instead.
    if (i->prose >= 200) return 0;
    if (i->links >= 2 && link_density(i) > r->skip_density) return 1;
    if (i->links == 1 && i->text < 40 && link_density(i) > 0.95f && i->tag != T_P && !is_heading(i->tag)) return 1;
    // "Read also: <a>another story</a>": a short paragraph that is mostly one link.
    if (i->links >= 1 && i->text < link_paragraph_bytes && link_density(i) > 0.6f && (i->tag == T_P || i->tag == T_DIV)) return 1;
    return 0;
}

static void render(render_t *r, xmlNodePtr n) {
    ctx_t *c = r->c;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content) emit_text(r, (const char *)n->content, strlen((const char *)n->content));
        return;
    }
    if (n->type != XML_ELEMENT_NODE) return;
    info_t *i = I(c, n);
    if (!i) return;
    if (i->flags & F_MATH_TEX) {
        buf_t t = {0};
        raw_text(c, n, &t);
        c->has_math = 1;
        int display = (i->flags & F_DISPLAY) != 0;
        if (display) newline(r, 2);
        emit_word(r, display ? "$$" : "$");
        if (t.n) {
            // Trim and keep the TeX as written.
            size_t a = 0, z = t.n;
            while (a < z && (t.p[a] == ' ' || t.p[a] == '\n')) a++;
            while (z > a && (t.p[z - 1] == ' ' || t.p[z - 1] == '\n')) z--;
            put(&r->out, t.p + a, z - a);
        }
        puts_(&r->out, display ? "$$" : "$");
        if (display) newline(r, 2);
        free(t.p);
        return;
    }
    if (i->flags & F_REMOVED) return;
    int t = i->tag;
    if (!is_inline(t) && t != T_BODY && link_list(r, i) && !r->in_pre) return;
    switch (t) {
    case T_BR:
        newline(r, 1);
        return;
    case T_HR:
        newline(r, 2);
        return;
    case T_IMG: {
        if (!c->o->keep_images) return;
        const char *alt = attr(n, "alt");
        if (alt && *alt) {
            emit_word(r, "![");
            emit_text(r, alt, strlen(alt));
            puts_(&r->out, "]");
        }
        return;
    }
    case T_A:
        if (!c->o->keep_links) return;
        render_children(r, n);
        return;
    case T_MATH: {
        buf_t t = {0};
        math_latex(c, n, &t);
        c->has_math = 1;
        int display = (i->flags & F_DISPLAY) != 0;
        if (display) newline(r, 2);
        emit_word(r, display ? "$$" : "$");
        if (t.p) put(&r->out, t.p, t.n);
        puts_(&r->out, display ? "$$" : "$");
        if (display) newline(r, 2);
        free(t.p);
        return;
    }
    case T_PRE: {
        buf_t t = {0};
        raw_text(c, n, &t);
        // Strip blank lines around the code; keep its indentation.
        size_t a = 0, z = t.n;
        while (a < z && (t.p[a] == '\n' || t.p[a] == '\r')) a++;
        while (z > a && (t.p[z - 1] == '\n' || t.p[z - 1] == ' ' || t.p[z - 1] == '\r' || t.p[z - 1] == '\t')) z--;
        if (z > a) {
            c->has_code = 1;
            if (r->no_newlines) {
                emit_text(r, t.p + a, z - a);
            } else {
                newline(r, 2);
                line_start(r);
                const char *lang = NULL;
                const char *cls = attr(n, "class");
                xmlNodePtr code = NULL;
                for (xmlNodePtr k = n->children; k; k = k->next)
                    if (k->type == XML_ELEMENT_NODE && k->name && strcmp((const char *)k->name, "code") == 0) code = k;
                if (!cls && code) cls = attr(code, "class");
                char langbuf[32] = {0};
                if (cls) {
                    const char *l = strstr(cls, "language-");
                    if (!l) l = strstr(cls, "lang-");
                    if (l) {
                        l = strchr(l, '-') + 1;
                        size_t m = 0;
                        while (l[m] && l[m] != ' ' && m < sizeof langbuf - 1) {
                            langbuf[m] = l[m];
                            m++;
                        }
                        lang = langbuf;
                    }
                }
                puts_(&r->out, "```");
                if (lang) puts_(&r->out, lang);
                put(&r->out, "\n", 1);
                put(&r->out, t.p + a, z - a);
                put(&r->out, "\n", 1);
                line_start(r);
                puts_(&r->out, "```");
                newline(r, 2);
            }
        }
        free(t.p);
        return;
    }
    case T_CODE: {
        // Inline code (a <code> outside <pre>): backticks around its text.
        buf_t t = {0};
        raw_text(c, n, &t);
        int multiline = t.n && memchr(t.p, '\n', t.n) != NULL;
        if (multiline && !r->no_newlines) {
            free(t.p);
            c->has_code = 1;
            newline(r, 2);
            line_start(r);
            puts_(&r->out, "```\n");
            buf_t u = {0};
            raw_text(c, n, &u);
            size_t z = u.n;
            while (z > 0 && (u.p[z - 1] == '\n' || u.p[z - 1] == ' ')) z--;
            put(&r->out, u.p, z);
            put(&r->out, "\n```", 4);
            free(u.p);
            newline(r, 2);
            return;
        }
        free(t.p);
        if (r->at_line_start) line_start(r);
        else if (r->pending_space) put(&r->out, " ", 1);
        r->pending_space = 0;
        put(&r->out, "`", 1);
        size_t before = r->out.n;
        render_children(r, n);
        if (r->out.n == before) {
            r->out.n--;  // empty: no backticks
            r->out.p[r->out.n] = 0;
        } else {
            trim_trailing_spaces(r);
            put(&r->out, "`", 1);
        }
        return;
    }
    case T_TABLE:
        if (!c->o->keep_tables) return;
        if (!r->no_newlines && is_data_table(c, n)) {
            render_table(r, n);
            return;
        }
        break;
    case T_UL:
    case T_OL: {
        newline(r, r->prefix_len ? 1 : 2);
        int number = 1;
        const char *start = attr(n, "start");
        if (start) number = atoi(start);
        FOR_KEPT(c, k, n) {
            info_t *ki = I(c, k);
            if (ki->tag != T_LI) {
                render(r, k);
                continue;
            }
            if (ki->text == 0 && !(ki->flags & F_MATH_TEX)) continue;
            newline(r, 1);
            line_start(r);
            char marker[16];
            if (t == T_OL) snprintf(marker, sizeof marker, "%d. ", number++);
            else snprintf(marker, sizeof marker, "- ");
            puts_(&r->out, marker);
            size_t saved;
            push_prefix(r, "  ", &saved);
            render_children(r, k);
            pop_prefix(r, saved);
            newline(r, 1);
        }
        newline(r, r->prefix_len ? 1 : 2);
        return;
    }
    case T_BLOCKQUOTE: {
        newline(r, 2);
        size_t saved;
        push_prefix(r, "> ", &saved);
        render_children(r, n);
        newline(r, 1);
        pop_prefix(r, saved);
        newline(r, 2);
        return;
    }
    default:
        break;
    }
    if (is_heading(t)) {
        if (r->no_newlines) {
            render_children(r, n);
            return;
        }
        newline(r, 2);
        line_start(r);
        for (int k = 0; k <= t - T_H1; k++) put(&r->out, "#", 1);
        put(&r->out, " ", 1);
        r->pending_space = 0;
        render_children(r, n);
        newline(r, 2);
        return;
    }
    if (is_inline(t)) {
        render_children(r, n);
        return;
    }
    int separation = (t == T_LI || t == T_DT || t == T_DD || t == T_TR || t == T_TD || t == T_TH) ? 1 : 2;
    newline(r, separation);
    render_children(r, n);
    newline(r, separation);
}

static void render_children(render_t *r, xmlNodePtr n) {
    for (xmlNodePtr k = n->children; k; k = k->next) render(r, k);
}

/// Short blocks after the last substantial one are the page's tail ("Related posts", "Share this", a date,
/// "read more"): dropped. Substantial: a paragraph of 150 bytes or more, a code block or a table.
// MARK: - Pass 5: blocks of the text

/// A block with a line this long is substantial; a sentence this long is too.
static const size_t long_line_bytes = 80, sentence_bytes = 40;
/// Lone lines shorter than this without punctuation are widgets' labels.
static const size_t stray_bytes = 20;

/// What a block of the rendered text (the lines between two blank lines) looks like.
typedef struct {
    size_t longest_line;
    int level;     // heading level (number of leading #), 0 if not a heading
    int code;      // a fence, a table row or display math
    int list;      // "- " or "N. "
    int sentence;  // ends like a sentence (or in a non-ASCII character: CJK punctuation, quotes)
} block_t;

static block_t block_facts(const char *blk, size_t len) {
    block_t f = {0};
    f.code = len >= 3 && (strncmp(blk, "```", 3) == 0 || blk[0] == '|' || blk[0] == '$');
    size_t d = 0;
    while (d < len && blk[d] >= '0' && blk[d] <= '9') d++;
    f.list = (len >= 2 && blk[0] == '-' && blk[1] == ' ') || (d > 0 && d + 1 < len && blk[d] == '.' && blk[d + 1] == ' ');
    while (f.level < (int)len && blk[f.level] == '#') f.level++;
    size_t line = 0;
    for (size_t i = 0; i < len; i++) {
        if (blk[i] == '\n') {
            if (line > f.longest_line) f.longest_line = line;
            line = 0;
        } else {
            line++;
        }
    }
    if (line > f.longest_line) f.longest_line = line;
    char last = len ? blk[len - 1] : 0;
    f.sentence = last == '.' || last == '!' || last == '?' || last == ':' || (unsigned char)last >= 0x80;
    return f;
}

/// A paragraph of real length, a code block, a table or display math.
static int substantial(const block_t *f) {
    return f->code || f->longest_line >= long_line_bytes || (f->sentence && f->longest_line >= sentence_bytes);
}

/// Whether the heading `blk` heads nothing: the block after it (from `end`) is a heading of its level or above
/// (the section's content, a link list, was cut).
static int heads_nothing(const buf_t *b, const char *blk, size_t len, size_t end) {
    (void)len;
    while (end < b->n && b->p[end] == '\n') end++;
    int level = 0, next = 0;
    while (blk[level] == '#') level++;
    while (end + (size_t)next < b->n && b->p[end + next] == '#') next++;
    return next > 0 && next <= level;
}

/// Decides on one block; `end` is where it ends in the text.
typedef int (*keep_block)(void *state, const buf_t *b, const char *blk, size_t len, size_t end);

/// The blocks `keep` keeps, with the separators written before them; NULL text if none.
static buf_t kept_blocks(const buf_t *b, keep_block keep, void *state) {
    buf_t out = {0};
    size_t i = 0, sep = 0;  // the separator before block i starts at sep
    while (i < b->n) {
        size_t j = i;
        while (j < b->n && !(j + 1 < b->n && b->p[j] == '\n' && b->p[j + 1] == '\n')) j++;
        if (keep(state, b, b->p + i, j - i, j)) {
            if (out.n) put(&out, b->p + sep, i - sep);
            put(&out, b->p + i, j - i);
        }
        i = j;
        sep = j;
        while (i < b->n && b->p[i] == '\n') i++;
    }
    return out;
}

/// Short blocks after the last substantial one are the page's tail ("Related posts", "Share this", a date,
/// "read more"): dropped. Lists stop the scan: link lists are gone already, what is left is the article's own.
static void drop_tail(buf_t *b) {
    if (!b->p) return;
    size_t end = b->n;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && !(start >= 2 && b->p[start - 1] == '\n' && b->p[start - 2] == '\n')) start--;
        block_t f = block_facts(b->p + start, end - start);
        if (substantial(&f) || f.list || start == 0) break;
        end = start >= 2 ? start - 2 : 0;
    }
    b->n = end;
    b->p[b->n] = 0;
}

/// Before the first substantial block: headings stay (titles) unless they head nothing; other blocks (dates,
/// bylines, category links, kickers) go.
static int keep_in_head(void *state, const buf_t *b, const char *blk, size_t len, size_t end) {
    int *body = state;
    if (*body) return 1;
    block_t f = block_facts(blk, len);
    if (substantial(&f)) {
        *body = 1;
        return 1;
    }
    return f.level > 0 && !heads_nothing(b, blk, len, end);
}

static void drop_head(buf_t *b) {
    if (!b->p) return;
    int body = 0;
    buf_t out = kept_blocks(b, keep_in_head, &body);
    if (!out.p || !body) {  // nothing substantial: leave the text as it was
        free(out.p);
        return;
    }
    free(b->p);
    *b = out;
}

/// Anywhere outside code: headings that head nothing; very short lone lines that are not headings, list items,
/// table rows or code and end without punctuation ("Print recipe", "Show sources": widgets' labels); copyright
/// and photo credit lines.
static int keep_outside_strays(void *state, const buf_t *b, const char *blk, size_t len, size_t end) {
    int *in_code = state;
    int fence = len >= 3 && strncmp(blk, "```", 3) == 0;
    int keep = 1;
    if (!*in_code && len && blk[0] == '#' && heads_nothing(b, blk, len, end)) keep = 0;
    if (!*in_code && !fence && len < stray_bytes && memchr(blk, '\n', len) == NULL) {
        char first = blk[0], last = blk[len - 1];
        int structured = first == '#' || first == '-' || first == '|' || first == '$' || first == '>' ||
                         (first >= '0' && first <= '9');
        int punct = last == '.' || last == '!' || last == '?' || last == ':' || last == ';' || last == '"' ||
                    (unsigned char)last >= 0x80;
        if (!structured && !punct) keep = 0;
    }
    if (!*in_code && !fence && len < 120 && memchr(blk, '\n', len) == NULL && memmem(blk, len, "\xC2\xA9", 2))
        keep = 0;
    // Fences may hold blank lines: track whether the next block is inside one.
    for (size_t k = 0; k + 3 <= len; k++) {
        if ((k == 0 || blk[k - 1] == '\n') && strncmp(blk + k, "```", 3) == 0) *in_code = !*in_code;
    }
    return keep;
}

static void drop_stray(buf_t *b) {
    if (!b->p) return;
    int in_code = 0;
    buf_t out = kept_blocks(b, keep_outside_strays, &in_code);
    if (!out.p) return;
    free(b->p);
    *b = out;
}

// MARK: - Driver

static xmlNodePtr find_tag(ctx_t *c, xmlNodePtr n, int tag, int depth) {
    for (xmlNodePtr k = n; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE) continue;
        info_t *ki = I(c, k);
        if (ki && ki->tag == tag) return k;
        if (depth < 3) {
            xmlNodePtr f = find_tag(c, k->children, tag, depth + 1);
            if (f) return f;
        }
    }
    return NULL;
}

static char *page_title(xmlDocPtr doc) {
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root) return NULL;
    xmlNodePtr head = NULL;
    for (xmlNodePtr k = root->children; k; k = k->next)
        if (k->type == XML_ELEMENT_NODE && k->name && strcmp((const char *)k->name, "head") == 0) head = k;
    if (!head) return NULL;
    const char *og = NULL;
    xmlNodePtr title = NULL;
    for (xmlNodePtr k = head->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE || !k->name) continue;
        if (strcmp((const char *)k->name, "title") == 0) title = k;
        if (strcmp((const char *)k->name, "meta") == 0) {
            const char *p = attr(k, "property");
            if (p && strcmp(p, "og:title") == 0) og = attr(k, "content");
        }
    }
    buf_t b = {0};
    if (og && *og) puts_(&b, og);
    else if (title && title->children && title->children->content) puts_(&b, (const char *)title->children->content);
    if (!b.p) return NULL;
    // Collapse whitespace.
    size_t w = 0;
    int space = 1;
    for (size_t i = 0; i < b.n; i++) {
        char ch = b.p[i];
        if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') {
            if (!space) b.p[w++] = ' ';
            space = 1;
        } else {
            b.p[w++] = ch;
            space = 0;
        }
    }
    while (w && b.p[w - 1] == ' ') w--;
    b.p[w] = 0;
    return b.p;
}

int dh_parse_only(const char *html, size_t length) {
    pthread_once(&tables_once, init_tables);
    htmlDocPtr doc = htmlReadMemory(html, (int)length, NULL, "UTF-8",
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NONET | HTML_PARSE_COMPACT);
    if (!doc) return -1;
    xmlFreeDoc(doc);
    return 0;
}

/// One parser context per thread, reused: its dictionary of element and attribute names stays warm. It is
/// renewed every 4096 pages or when the dictionary grows large, so memory stays bounded.
static __thread htmlParserCtxtPtr thread_ctxt;
static __thread unsigned thread_pages;

static htmlDocPtr parse(const char *html, size_t length) {
    if (thread_ctxt && (thread_pages >= 4096 || (thread_ctxt->dict && xmlDictSize(thread_ctxt->dict) > 100000))) {
        htmlFreeParserCtxt(thread_ctxt);
        thread_ctxt = NULL;
    }
    if (!thread_ctxt) {
        thread_ctxt = htmlNewParserCtxt();
        thread_pages = 0;
        if (!thread_ctxt) return NULL;
    }
    thread_pages++;
    return htmlCtxtReadMemory(thread_ctxt, html, (int)length, NULL, "UTF-8",
                              HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                                  HTML_PARSE_COMPACT | HTML_PARSE_NODEFDTD | HTML_PARSE_NOBLANKS | HTML_PARSE_IGNORE_ENC);
}

int dh_extract(const char *html, size_t length, const dh_options *o, dh_result *res) {
    memset(res, 0, sizeof *res);
    pthread_once(&tables_once, init_tables);
    htmlDocPtr doc = parse(html, length);
    if (!doc) {
        res->failure = DH_PARSE_FAILED;
        return res->failure;
    }
    res->title = page_title(doc);
    ctx_t c = {0};
    c.o = o;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root) {
        xmlFreeDoc(doc);
        res->failure = DH_NO_BODY;
        return res->failure;
    }
    measure(&c, root, 0, 0, 0);
    xmlNodePtr body = find_tag(&c, root, T_BODY, 0);
    if (!body) body = root;
    info_t *bi = I(&c, body);
    c.page_text = bi ? bi->text : 0;
    c.page_prose = bi ? bi->prose : 0;
    res->html_text_bytes = c.page_text;
    res->depth_capped = c.depth_capped;
    if (!bi || bi->text == 0) {
        free(c.info);
        xmlFreeDoc(doc);
        res->failure = DH_NO_BODY;
        return res->failure;
    }
    prune(&c, body);
    score(&c, body);

    xmlNodePtr best = content_root(&c, body, o);
    render_t r = {0};
    r.c = &c;
    r.at_line_start = 1;
    r.skip_density = o->favor == DH_PRECISION ? 0.4f : o->favor == DH_RECALL ? 0.75f : 0.55f;
    info_t *besti = I(&c, best);
    float best_score = besti ? besti->score * (1.f - link_density(besti)) : 0;
    float threshold = best_score * (o->favor == DH_PRECISION ? 0.3f : o->favor == DH_RECALL ? 0.1f : 0.2f);
    if (threshold < 10) threshold = 10;
    if (best == body || !best->parent) {
        render(&r, best);
    } else {
        FOR_KEPT(&c, s, best->parent) {
            info_t *si = I(&c, s);
            int append = s == best;
            if (!append && (si->flags & F_SCORED) && si->score * (1.f - link_density(si)) >= threshold) append = 1;
            if (!append && !is_inline(si->tag)) {
                float ld = link_density(si);
                if (si->inline_text > 80 && ld < 0.25f) append = 1;
                else if (si->inline_text > 0 && si->inline_text <= 80 && ld == 0 && o->favor != DH_PRECISION &&
                         si->tag == T_P)
                    append = 1;
                else if (is_heading(si->tag) && ld < 0.5f) append = 1;
            }
            if (append) render(&r, s);
        }
    }
    // Too little text for the page: the whole (pruned) body, unless precision is asked for.
    if (o->favor != DH_PRECISION && r.out.n < 250 && best != body && c.page_text > 2 * (r.out.n + 1)) {
        free(r.out.p);
        memset(&r.out, 0, sizeof r.out);
        r.at_line_start = 1;
        r.prefix_len = 0;
        render(&r, body);
    }
    trim_trailing_spaces(&r);
    while (r.out.n && r.out.p[r.out.n - 1] == '\n') r.out.n--;
    if (o->favor != DH_RECALL) {
        drop_tail(&r.out);
        drop_head(&r.out);
        drop_stray(&r.out);
    }
    if (r.out.p) r.out.p[r.out.n] = 0;
    res->has_math = c.has_math;
    res->has_code = c.has_code;
    res->has_table = c.has_table;
    if (r.out.n == 0) {
        free(r.out.p);
        res->failure = DH_NO_CONTENT;
    } else {
        res->text = r.out.p;
        res->length = r.out.n;
    }
    free(c.info);
    xmlFreeDoc(doc);
    return res->failure;
}

void dh_result_free(dh_result *r) {
    free(r->text);
    free(r->title);
    r->text = NULL;
    r->title = NULL;
}
