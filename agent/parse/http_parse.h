/* http_parse: an incremental parser for one HTTP/1.1 response as a client sees it: status
 * line, headers, body framing (Content-Length, chunked or until the connection closes) and a
 * search for a substring in the decoded body. Pure: no I/O, no allocation, no globals; the
 * caller owns the http_parse_t and feeds it bytes in pieces of any size. */
#ifndef PX_HTTP_PARSE_H
#define PX_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* The status line and all header lines of a response (interim 1xx responses included) must
 * fit in this many bytes; one line in HTTP_PARSE_LINE_MAX. */
#define HTTP_PARSE_HEAD_MAX 32768
#define HTTP_PARSE_LINE_MAX 8192
#define HTTP_PARSE_REASON_MAX 64  /* longer reason phrases are cut (not an error) */
#define HTTP_PARSE_NEEDLE_MAX 128 /* the longest body substring that can be searched for */
#define HTTP_PARSE_ERROR_MAX 96

/* X(name, text): where the parser is. Every transition goes through one set_state(). */
#define HTTP_PARSE_STATE_LIST(X)                                                                   \
    X(STATUS_LINE, "status line")                                                                  \
    X(HEADERS, "headers")                                                                          \
    X(BODY_LENGTH, "body (Content-Length)")                                                        \
    X(BODY_CLOSE, "body (until close)")                                                            \
    X(CHUNK_SIZE, "chunk size")                                                                    \
    X(CHUNK_DATA, "chunk data")                                                                    \
    X(CHUNK_END, "chunk end")                                                                      \
    X(TRAILERS, "trailers")                                                                        \
    X(DONE, "done")                                                                                \
    X(ERROR, "error")

typedef enum http_parse_state {
#define HTTP_PARSE_STATE_ENUM(name, text) HTTP_PARSE_##name,
    HTTP_PARSE_STATE_LIST(HTTP_PARSE_STATE_ENUM)
#undef HTTP_PARSE_STATE_ENUM
} http_parse_state_t;

/* How the end of the body is found (RFC 9112 section 6.3), known once the headers are. */
typedef enum http_framing {
    HTTP_FRAMING_UNKNOWN, /* headers not complete yet */
    HTTP_FRAMING_NONE,    /* 204, 304 and 101 have no body */
    HTTP_FRAMING_LENGTH,  /* Content-Length */
    HTTP_FRAMING_CHUNKED, /* Transfer-Encoding ending in chunked */
    HTTP_FRAMING_CLOSE,   /* neither: the body ends when the connection closes */
} http_framing_t;

/* What a feed or the end of input says: more bytes needed, the response is complete, or it is
 * not HTTP (then error holds why). COMPLETE and FAILED are final. */
typedef enum http_parse_rc {
    HTTP_PARSE_MORE,
    HTTP_PARSE_COMPLETE,
    HTTP_PARSE_FAILED,
} http_parse_rc_t;

typedef struct http_parse {
    http_parse_state_t state;
    /* Filled in as they become known; read them at any time. */
    int version_minor; /* HTTP/1.x */
    int status;        /* of the latest status line: the final response's once headers_complete */
    char reason[HTTP_PARSE_REASON_MAX]; /* may be "" */
    int headers_complete;               /* the final response's header section ended */
    http_framing_t framing;
    uint64_t content_length;          /* HTTP_FRAMING_LENGTH only */
    uint64_t body_bytes;              /* decoded body bytes seen so far */
    int body_found;                   /* the needle occurred in the decoded body */
    char error[HTTP_PARSE_ERROR_MAX]; /* why FAILED, "" otherwise */

    /* Private to the parser. */
    size_t head_bytes;
    size_t line_len;
    int cr; /* the last byte was a CR that must be followed by LF */
    int saw_length, saw_te, te_chunked;
    uint64_t remaining; /* of the Content-Length body or of the current chunk */
    size_t needle_len, match;
    char needle[HTTP_PARSE_NEEDLE_MAX];
    uint8_t next[HTTP_PARSE_NEEDLE_MAX]; /* KMP failure function of the needle */
    char line[HTTP_PARSE_LINE_MAX];
} http_parse_t;

/* Prepares p for one response. needle (NULL or "" for none) is searched for in the decoded
 * body; it is copied. Returns 0, or -1 if the needle is longer than HTTP_PARSE_NEEDLE_MAX. */
int http_parse_init(http_parse_t *p, const char *needle);

/* Feeds len bytes. *used (if not NULL) gets how many were part of the response: bytes after a
 * complete response are left alone. Returns MORE, COMPLETE or FAILED; once COMPLETE or
 * FAILED every further call returns the same and uses nothing. */
http_parse_rc_t http_parse_feed(http_parse_t *p, const void *data, size_t len, size_t *used);

/* Tells the parser the connection closed. COMPLETE if the response was (a body framed by the
 * close ends here), else FAILED with error saying where it was cut. */
http_parse_rc_t http_parse_eof(http_parse_t *p);

/* Name of a state for logs and messages ("headers", ...); "?" when out of range. */
const char *http_parse_state_name(http_parse_state_t state);

#endif
