/* file_name.h: the display form of an uploaded file's name.
 *
 * A file name comes from the user (JSON fileName, the multipart filename,
 * the raw upload's ?fileName=) and is shown back in lists, logs of the front
 * end and exports, so only a safe form is kept: no control characters (C0,
 * DEL, C1, and whole ESC sequences, so no terminal tricks), no path (the
 * part after the last '/' or '\'), no "." or "..", trimmed, valid UTF-8 of at
 * most FILE_NAME_MAX bytes (cut at a character boundary), and
 * FILE_NAME_DEFAULT when nothing is left. */
#ifndef FILE_NAME_H
#define FILE_NAME_H

#include <stddef.h>

#define FILE_NAME_MAX      255
#define FILE_NAME_DEFAULT  "statement"

/* Writes the display form of in[0..n) into out (FILE_NAME_MAX + 1 bytes).
 * Returns out.  Applying it to its own result changes nothing. */
char *file_name_display(const char *in, size_t n, char out[FILE_NAME_MAX + 1]);

#endif
