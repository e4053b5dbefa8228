#include <cstdio>
int main() { std::puts("depositbot"); return 0; }
