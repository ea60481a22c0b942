/* main.c — placeholder until cmd/ is wired. */
#include <stdio.h>
#include "scry_build.h"
int main(void) { printf("scry %s\n", SCRY_VERSION); return 0; }
