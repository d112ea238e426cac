#include <mysql.h>
#include <mariadb_rpl.h>

// Swift cannot call C variadic functions nor macros: fixed-argument wrappers for the replication
// options StreamKitMySQL sets (Connector/C 3.3, mariadb_rpl.h).
static inline MARIADB_RPL *streamkit_rpl_init(MYSQL *mysql) {
    return mariadb_rpl_init_ex(mysql, MARIADB_RPL_VERSION);
}
static inline int streamkit_rpl_set_filename(MARIADB_RPL *rpl, const char *name, size_t length) {
    return mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, name, length);
}
static inline int streamkit_rpl_set_start(MARIADB_RPL *rpl, unsigned long position) {
    return mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, position);
}
static inline int streamkit_rpl_set_server_id(MARIADB_RPL *rpl, unsigned int server_id) {
    return mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, server_id);
}
static inline int streamkit_rpl_set_flags(MARIADB_RPL *rpl, unsigned int flags) {
    return mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, flags);
}
static inline int streamkit_mysql_set_uint_option(MYSQL *mysql, enum mysql_option option, unsigned int value) {
    return mysql_options(mysql, option, &value);
}
