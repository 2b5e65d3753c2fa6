#include <gtest/gtest.h>

#include <memory>

#include "embed_test_env.hpp"

namespace w2p::test {
namespace {
std::unique_ptr<embed::Interpreter> g_interpreter;

class PythonEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_interpreter = std::make_unique<embed::Interpreter>(
        embed::InterpreterConfig{{W2P_TEST_APPS_DIR}, embed::find_python_dir()});
  }
  void TearDown() override { g_interpreter.reset(); }
};
}  // namespace

embed::Interpreter& interpreter() {
  return *g_interpreter;
}
}  // namespace w2p::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new w2p::test::PythonEnvironment);
  return RUN_ALL_TESTS();
}
