#ifndef SQUADSYNC_CLIBPQ_SHIM_H
#define SQUADSYNC_CLIBPQ_SHIM_H

#include <libpq-fe.h>

/* Swift cannot import character macros such as PG_DIAG_SQLSTATE ('C'):
   re-export the ones the wrapper reads as typed constants. */
static const int squad_PG_DIAG_SEVERITY = PG_DIAG_SEVERITY;
static const int squad_PG_DIAG_SQLSTATE = PG_DIAG_SQLSTATE;
static const int squad_PG_DIAG_MESSAGE_PRIMARY = PG_DIAG_MESSAGE_PRIMARY;
static const int squad_PG_DIAG_MESSAGE_DETAIL = PG_DIAG_MESSAGE_DETAIL;
static const int squad_PG_DIAG_MESSAGE_HINT = PG_DIAG_MESSAGE_HINT;
static const int squad_PG_DIAG_STATEMENT_POSITION = PG_DIAG_STATEMENT_POSITION;
static const int squad_PG_DIAG_CONSTRAINT_NAME = PG_DIAG_CONSTRAINT_NAME;
static const int squad_PG_DIAG_TABLE_NAME = PG_DIAG_TABLE_NAME;
static const int squad_PG_DIAG_COLUMN_NAME = PG_DIAG_COLUMN_NAME;

#endif
