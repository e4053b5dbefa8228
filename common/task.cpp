#include "common/task.h"

namespace depositbot {
namespace {

thread_local ResumeContext t_context;

}  // namespace

ResumeContext CurrentResumeContext() { return t_context; }

ResumeScope::ResumeScope(ResumeContext context) : previous_(t_context) { t_context = context; }

ResumeScope::~ResumeScope() { t_context = previous_; }

}  // namespace depositbot
