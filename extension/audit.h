/*
 * audit.h — the audit chain's hook into the module's start (namaskah.c);
 * the SQL-callable functions are in audit.c.
 */
#ifndef NAMASKAH_AUDIT_H
#define NAMASKAH_AUDIT_H

/* Registers the transaction callbacks that forget the cached chain head. */
void audit_register_callbacks(void);

/* The module's relcache callback's part for the audit log (namaskah.c). */
void audit_relcache_changed(Oid relid);

#endif
