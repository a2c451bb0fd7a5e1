/*
 * audit.h — the audit chain's hook into the module's start (namaskah.c);
 * the SQL-callable functions are in audit.c.
 */
#ifndef NAMASKAH_AUDIT_H
#define NAMASKAH_AUDIT_H

/* Registers the transaction callbacks that forget the cached chain head. */
void audit_register_callbacks(void);

#endif
