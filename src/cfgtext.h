/* cfgtext.h: libconfig text written from values and dotted names: strings quoted and escaped, integers bare,
 * the dotted names nested into groups (config.c reads it; this module only writes, without libconfig) */
#pragma once

#include "macro.h"

/* "..." with \\ \" and the control characters escaped */
char *cfgtext_string(const char *v);
/* An ini value: bare when libconfig reads it back as the same decimal int ("256"), else a string ("256M") */
char *cfgtext_ini_value(const char *v);
/* A libconfig name: [A-Za-z*][-A-Za-z0-9_*]* */
bool cfgtext_is_name(const char *s);

/* A group of settings: value NULL for a group */
typedef struct CfgNode {
        char *name;
        char *value; /* libconfig text: "\"www\"", "5", "true", "[ \".php\" ]" */
        struct CfgNode *children;
        size_t n;
} CfgNode;

/* Adds "a.b.c" = value under root, making the groups a and a.b as needed; -EEXIST where a value or a group is
 * in the way */
int cfgtext_insert(CfgNode *root, const char *path, const char *value);
void cfgtext_done(CfgNode *n);
/* The settings under g, one per line and groups indented by two, or all on one line (compact); after a
 * "# header" line unless header is NULL */
char *cfgtext_render(const CfgNode *g, const char *header, bool compact);
