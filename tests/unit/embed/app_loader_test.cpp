#include "embed/app_loader.hpp"

#include <gtest/gtest.h>

#include "embed_test_env.hpp"

using namespace w2p;

TEST(AppLoader, LoadsModuleCallable) {
  test::with_gil([] {
    auto app = embed::load_wsgi_app("unit_apps:hello");
    EXPECT_TRUE(PyCallable_Check(app.ptr()));
    auto nested = embed::load_wsgi_app("unit_apps:Closing.close");
    EXPECT_TRUE(PyCallable_Check(nested.ptr()));
  });
}

TEST(AppLoader, ClearErrors) {
  test::with_gil([] {
    try {
      embed::load_wsgi_app("no_such_module_xyz:app");
      FAIL();
    } catch (const embed::LoadError& e) {
      EXPECT_NE(std::string(e.what()).find("cannot import 'no_such_module_xyz'"),
                std::string::npos);
      EXPECT_NE(e.traceback.find("ModuleNotFoundError"), std::string::npos);
    }
    try {
      embed::load_wsgi_app("unit_apps:missing");
      FAIL();
    } catch (const embed::LoadError& e) {
      EXPECT_NE(std::string(e.what()).find("no attribute 'missing'"), std::string::npos);
    }
    try {
      embed::load_wsgi_app("unit_apps:CLOSED");
      FAIL();
    } catch (const embed::LoadError& e) {
      EXPECT_NE(std::string(e.what()).find("not callable"), std::string::npos);
    }
    EXPECT_FALSE(PyErr_Occurred());
  });
}
