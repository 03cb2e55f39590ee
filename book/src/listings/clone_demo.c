/*
 * clone_demo.c: start a program in new mount, pid and network namespaces with clone(2).
 *
 * The parent reports the child's pid as it sees it and waits; the child waits until the parent
 * has spoken (a pipe, so that the output always comes in the same order), reports that it runs
 * and executes the program (bash when none is given). Inside, `echo $$` prints 1 and the only
 * network device is `lo`, DOWN. `nslab clone 'NEWNS|NEWPID|NEWNET'` does the same, and can
 * also show the model's account of the call beside the kernel's answer.
 *
 * Build: cc -O2 -Wall -o clone_demo clone_demo.c      Run as root: ./clone_demo [PROGRAM ARGS...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ANCHOR: flags */
#define DEMO_FLAGS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET)
/* ANCHOR_END: flags */
#define STACK_BYTES (1024 * 1024)

static char *default_argv[] = { "/bin/bash", NULL };

/* The child reads this pipe until the parent closes its end, after its first line. */
static int go[2];

/* ANCHOR: child */
static int child_main(void *arg)
{
	char **argv = arg;
	char byte;

	close(go[1]);
	while (read(go[0], &byte, 1) > 0)
		;
	close(go[0]);
	printf("In child process.\n");
	fflush(stdout);
	execvp(argv[0], argv);
	fprintf(stderr, "clone_demo: failed to execute %s: %s\n", argv[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
/* ANCHOR_END: child */

int main(int argc, char *argv[])
{
	char **child_argv = argc > 1 ? argv + 1 : default_argv;
	int status;

	/* The stack grows down on every architecture Linux runs namespaces on: pass its top. */
	char *stack = mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		perror("clone_demo: mmap");
		return 1;
	}

	if (pipe(go) == -1) {
		perror("clone_demo: pipe");
		return 1;
	}

	/* ANCHOR: clone */
	pid_t pid = clone(child_main, stack + STACK_BYTES, DEMO_FLAGS | SIGCHLD, child_argv);
	if (pid == -1) {
		fprintf(stderr, "clone_demo: clone failed: %s\n", strerror(errno));
		return 1;
	}
	printf("clone() returned %d\n", (int)pid);
	fflush(stdout);
	close(go[0]);
	close(go[1]); /* now the child may go on */

	if (waitpid(pid, &status, 0) == -1) {
		perror("clone_demo: waitpid");
		return 1;
	}
	printf("child has terminated\n");
	/* ANCHOR_END: clone */

	munmap(stack, STACK_BYTES);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
