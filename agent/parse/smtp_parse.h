/* smtp_parse: an incremental parser for one SMTP reply (RFC 5321 4.2): lines of a three-digit
 * code, '-' on every line but the last and ' ' (or nothing) on the last, CRLF or a bare LF.
 * Bytes are fed as they arrive, split anywhere. Pure: the parser is plain data, no I/O, no
 * allocation; the bytes are hostile. */
#ifndef PX_SMTP_PARSE_H
#define PX_SMTP_PARSE_H

#include <stddef.h>

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets including the CRLF. */
#define SMTP_PARSE_LINE_MAX 512
/* A reply longer than this many lines is not a server being chatty but a server stuck. */
#define SMTP_PARSE_LINES_MAX 64
#define SMTP_PARSE_WHY_MAX 96

typedef enum smtp_parse_status {
    SMTP_PARSE_MORE = 0, /* the reply is not complete yet: feed more */
    SMTP_PARSE_DONE,     /* the reply is complete; code and first_line are set */
    SMTP_PARSE_ERROR     /* not an SMTP reply; why says what was wrong */
} smtp_parse_status_t;

typedef struct smtp_parse {
    smtp_parse_status_t status;
    int code;       /* the reply code, once the first line is complete */
    unsigned lines; /* complete lines so far */
    size_t line_len;
    char line[SMTP_PARSE_LINE_MAX + 1]; /* the line being read, without CR/LF */
    /* The first line as received (code included, CR/LF removed, NUL-terminated); may hold
     * any byte but NUL stops it: use smtp_parse_sanitize() before showing it. */
    char first_line[SMTP_PARSE_LINE_MAX + 1];
    char why[SMTP_PARSE_WHY_MAX];
} smtp_parse_t;

/* Resets p to read a new reply. */
void smtp_parse_init(smtp_parse_t *p);

/* Feeds len bytes. Returns the parser's status afterwards and, in *used, how many bytes it
 * consumed: everything while MORE, up to and including the last line's LF when DONE (the rest
 * belongs to whatever the server sends next), and 0 once DONE or ERROR was reached before. */
smtp_parse_status_t smtp_parse_feed(smtp_parse_t *p, const char *data, size_t len, size_t *used);

/* Copies src into dst (size len > 0) with every byte outside printable ASCII replaced by '?',
 * truncated to fit. Returns dst. */
char *smtp_parse_sanitize(char *dst, size_t len, const char *src);

#endif
