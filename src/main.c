#include <stdio.h>
int main(void) { puts("nndist"); return 0; }
