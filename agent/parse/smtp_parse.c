/* smtp_parse: the reply grammar of RFC 5321 4.2, kept strict where strictness tells a mail
 * server from something else on the port (the code, the separator, one code per reply, line
 * length) and lenient where real servers differ harmlessly (bare LF, a final line of just the
 * code). */
#include "smtp_parse.h"

#include <stdio.h>
#include <string.h>

static smtp_parse_status_t fail(smtp_parse_t *p, const char *why)
{
    p->status = SMTP_PARSE_ERROR;
    snprintf(p->why, sizeof p->why, "%s", why);
    return p->status;
}

void smtp_parse_init(smtp_parse_t *p)
{
    memset(p, 0, sizeof *p);
    p->status = SMTP_PARSE_MORE;
}

/* RFC 5321 4.2: the first digit is 2..5 and the second 0..5; 1yz is unused in SMTP. */
static int code_of(const char *s)
{
    if (s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5' || s[2] < '0' || s[2] > '9')
        return -1;
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* Judges one complete line (p->line, p->line_len bytes, CR/LF removed). */
static smtp_parse_status_t end_line(smtp_parse_t *p)
{
    p->line[p->line_len] = '\0';
    if (p->line_len < 3)
        return fail(p, "line shorter than a reply code");
    int code = code_of(p->line);
    if (code < 0)
        return fail(p, "line does not start with a reply code");
    char sep = p->line_len > 3 ? p->line[3] : ' ';
    if (sep != ' ' && sep != '-')
        return fail(p, "reply code not followed by ' ' or '-'");
    if (p->lines == 0) {
        p->code = code;
        memcpy(p->first_line, p->line, p->line_len + 1);
    } else if (code != p->code) {
        return fail(p, "lines of one reply with different codes");
    }
    p->lines++;
    p->line_len = 0;
    if (sep == ' ')
        return p->status = SMTP_PARSE_DONE;
    if (p->lines >= SMTP_PARSE_LINES_MAX)
        return fail(p, "reply of too many lines");
    return SMTP_PARSE_MORE;
}

smtp_parse_status_t smtp_parse_feed(smtp_parse_t *p, const char *data, size_t len, size_t *used)
{
    size_t i = 0;
    while (p->status == SMTP_PARSE_MORE && i < len) {
        char c = data[i++];
        if (c == '\n') {
            /* A CR right before the LF ends the line; any other CR stays in the text. */
            if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
                p->line_len--;
            end_line(p);
            continue;
        }
        /* The limit counts the CRLF, so 510 bytes of text (plus a CR still held here). */
        if (p->line_len >= SMTP_PARSE_LINE_MAX - 1) {
            fail(p, "reply line longer than 512 bytes");
            break;
        }
        if (c == '\0') {
            fail(p, "NUL byte in a reply line");
            break;
        }
        p->line[p->line_len++] = c;
    }
    if (used)
        *used = i;
    return p->status;
}

char *smtp_parse_sanitize(char *dst, size_t len, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = src[i] >= 0x20 && src[i] <= 0x7e ? src[i] : '?';
    dst[i] = '\0';
    return dst;
}
