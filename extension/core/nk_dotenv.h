/*
 * nk_dotenv.h — the grammar of one line of a .env file (pure C, no
 * PostgreSQL headers).
 *
 * The one definition of what namaskahd reads from its ENV_FILE; the operator
 * scripts read the same grammar (scripts/lib-env.sh), and both are tested
 * against the same files (test/dotenv/). The grammar in prose is in
 * docs/operations.md, "The env file". One line is:
 *
 *   blank, or a comment: only spaces and tabs, or those and then '#';
 *   an assignment: [export ]KEY=VALUE, KEY an ASCII letter or '_' then
 *     letters, digits and '_', spaces or tabs allowed around the '=';
 *     VALUE is
 *       bare: the text up to a '#' that follows a space or tab (a comment),
 *         spaces and tabs around it dropped; no escapes ("a#b" stays);
 *       'single-quoted': literal, up to the next "'";
 *       "double-quoted": \" \\ \$ \` stand for the character, \n for a
 *         newline, any other backslash is kept as it is (as POSIX shells
 *         and systemd keep it);
 *     after a closing quote only spaces and tabs, then possibly a comment
 *     that starts after a space or tab;
 *   anything else is an error: the reader refuses the file.
 * A carriage return at the end of the line (CRLF files) is dropped. Which
 * of several assignments of one key counts (the last) is the reader's rule.
 */
#ifndef NK_DOTENV_H
#define NK_DOTENV_H

#include <stddef.h>

enum nk_dotenv_result {
    NK_DOTENV_OK,   /* an assignment: *key and *value are set */
    NK_DOTENV_SKIP, /* blank or comment */
    NK_DOTENV_BAD   /* not KEY=VALUE: the file is refused */
};

/*
 * Parses line[0..len), one line without its '\n', in place: on NK_DOTENV_OK
 * *key and *value point into line, each NUL-terminated (the value's escapes
 * decoded). line[len] must be writable (a NUL-terminated string of len bytes
 * is). Nothing is allocated; the caller owns line and wipes it if it held a
 * secret. A NUL or '\n' inside the line makes it NK_DOTENV_BAD.
 */
enum nk_dotenv_result nk_dotenv_parse_line(char *line, size_t len, char **key,
                                           char **value);

#endif
