// Realistic CV used by the renderer tests and the benchmark: about two pages
// in every template.
#pragma once

#include <string>
#include <vector>

#include "pdf/cv_data.hpp"

namespace malipo::cvpdf::testing {

inline CvData sampleCv() {
  CvData cv;
  cv.name = "Amina Mwakyusa";
  cv.title = "Senior Software Engineer \xE2\x80\x93 Payments & Mobile Money";
  cv.email = "amina.mwakyusa@example.com";
  cv.phone = "+255 754 123 456";
  cv.summary =
      "Software engineer with nine years of experience building payment systems for East African "
      "markets. I design reliable back-end services that reconcile mobile money, card and bank "
      "transfers, and I enjoy mentoring teams that ship carefully. Fluent in C++, Python and Go, "
      "with a strong interest in observability, fraud prevention and developer experience.";
  cv.experience = {
      {"Lead Backend Engineer", "Tigo Pesa Integrations Ltd", "2021 \xE2\x80\x93 present",
       "Led a team of six engineers building the USSD and API payment gateway used by 40 "
       "merchants.\n"
       "- Designed an idempotent payment state machine that removed duplicate charges entirely.\n"
       "- Cut median confirmation latency from 9 s to 1.4 s by replacing polling with callbacks.\n"
       "- Introduced contract tests with the operators\xE2\x80\x99 sandboxes and an on-call rota."},
      {"Senior Software Engineer", "Selcom Paytech", "2018 \xE2\x80\x93 2021",
       "Built the reconciliation service that matches operator statements with ledger entries "
       "every night, recovering about TZS 30 million a month in unsettled transactions.\n"
       "- Migrated the ledger from MySQL to PostgreSQL without downtime.\n"
       "- Wrote the merchant onboarding API and its documentation."},
      {"Software Engineer", "Vodacom Tanzania (M-Pesa)", "2016 \xE2\x80\x93 2018",
       "Maintained B2C disbursement tooling and the SMS notification pipeline. Added monitoring "
       "dashboards and alerting that shortened incident detection from hours to minutes."},
      {"Junior Developer", "Dar Teknohama Business Incubator", "2015 \xE2\x80\x93 2016",
       "Developed websites and small Android apps for local businesses; introduced version control "
       "and code review to the team."},
  };
  cv.education = {
      {"MSc Computer Science", "University of Dar es Salaam", "2019 \xE2\x80\x93 2021",
       "Thesis: detecting fraudulent mobile money agents with graph features. Graduated with "
       "distinction."},
      {"BSc Computer Engineering and IT", "University of Dar es Salaam", "2011 \xE2\x80\x93 2015",
       "Final project: offline-first point of sale for rural shops."},
      {"Advanced Certificate of Secondary Education", "Mzumbe Secondary School",
       "2009 \xE2\x80\x93 2011", ""},
  };
  cv.skills = {"C++17",
               "Python",
               "Go",
               "PostgreSQL",
               "Redis",
               "Kafka",
               "USSD gateways",
               "REST API design",
               "Docker",
               "Kubernetes",
               "Prometheus",
               "Grafana",
               "Payment reconciliation",
               "Fraud analytics",
               "Team leadership"};
  cv.languages = {"Swahili (native)", "English (fluent)", "French (intermediate)"};
  return cv;
}

// The same CV with a Cyrillic name (the benchmark's second case).
inline CvData sampleCvCyrillicName() {
  CvData cv = sampleCv();
  cv.name = u8"Амина Мвакьюса";
  return cv;
}

// An Amharic (Ethiopic) CV of about the same length, Latin mixed in as CVs do.
inline CvData amharicCv() {
  CvData cv;
  cv.name = u8"ሀና ተስፋዬ";
  cv.title = u8"ከፍተኛ የሶፍትዌር መሐንዲስ – የክፍያ ሥርዓቶች";
  cv.email = "hana.tesfaye@example.com";
  cv.phone = "+251 911 234 567";
  cv.summary =
      u8"በምሥራቅ አፍሪካ ገበያዎች የክፍያ ሥርዓቶችን በመገንባት የዘጠኝ ዓመት ልምድ ያለኝ የሶፍትዌር መሐንዲስ ነኝ። "
      u8"የሞባይል ገንዘብን፣ የካርድ እና የባንክ ዝውውሮችን የሚያስታርቁ አስተማማኝ አገልግሎቶችን እቀርጻለሁ፤ "
      u8"ቡድኖችን ማሰልጠን እወዳለሁ። C++፣ Python እና Go በደንብ እጠቀማለሁ።";
  const std::string bullets =
      u8"በአርባ ነጋዴዎች የሚጠቀሙበትን የUSSD እና የAPI የክፍያ መግቢያ የገነባ የስድስት መሐንዲሶች ቡድን መራሁ።\n"
      u8"- የተደጋገሙ ክፍያዎችን ሙሉ በሙሉ ያስቀረ የክፍያ ሁኔታ ማሽን ነደፍኩ።\n"
      u8"- የማረጋገጫ ጊዜን ከ9 ሰከንድ ወደ 1.4 ሰከንድ ቀነስኩ።\n"
      u8"- ከኦፕሬተሮች ጋር የውል ሙከራዎችን እና የጥሪ ተረኛ ሥርዓት አስተዋወቅሁ።";
  cv.experience = {
      {u8"ዋና የኋላ ገጽ መሐንዲስ", u8"ቴሌብር ውህደቶች ኃ.የተ.የግ.ማ.", u8"2021 – አሁን", bullets},
      {u8"ከፍተኛ የሶፍትዌር መሐንዲስ", u8"ሳፋሪኮም ኢትዮጵያ", u8"2018 – 2021",
       u8"በየምሽቱ የኦፕሬተር መግለጫዎችን ከሒሳብ መዝገብ ጋር የሚያዛምድ አገልግሎት ገነባሁ፤ በወር ወደ 30 ሚሊዮን ብር "
       u8"ያልተከፈሉ ግብይቶችን አስመለስኩ።\n- መዝገቡን ያለ መቋረጥ ከMySQL ወደ PostgreSQL አዛወርኩ።\n"
       u8"- የነጋዴ ምዝገባ API እና ሰነዶቹን ጻፍኩ።"},
      {u8"የሶፍትዌር መሐንዲስ", u8"የኢትዮጵያ ንግድ ባንክ", u8"2016 – 2018",
       u8"የክፍያ ማከፋፈያ መሣሪያዎችን እና የአጭር መልእክት ማሳወቂያ ሥርዓትን ጠበቅሁ። ችግሮችን የማወቂያ ጊዜን "
       u8"ከሰዓታት ወደ ደቂቃዎች ያሳጠሩ የክትትል ሰሌዳዎችን ጨመርኩ።"},
      {u8"ጀማሪ አልሚ", u8"አዲስ ቴክኖሎጂ ማዕከል", u8"2015 – 2016",
       u8"ለአካባቢ ንግዶች ድረ ገጾችን እና ትናንሽ የAndroid መተግበሪያዎችን አዘጋጀሁ።"},
  };
  cv.education = {
      {u8"የሁለተኛ ዲግሪ በኮምፒውተር ሳይንስ", u8"አዲስ አበባ ዩኒቨርሲቲ", u8"2019 – 2021",
       u8"ጥናት፦ የማጭበርበር ወኪሎችን በግራፍ ባሕሪያት መለየት። በከፍተኛ ማዕረግ ተመረቅሁ።"},
      {u8"የመጀመሪያ ዲግሪ በኮምፒውተር ምሕንድስና", u8"ባሕር ዳር ዩኒቨርሲቲ", u8"2011 – 2015",
       u8"የመጨረሻ ፕሮጀክት፦ ለገጠር ሱቆች ከመስመር ውጭ የሚሠራ የሽያጭ ሥርዓት።"},
  };
  cv.skills = {"C++17",          "Python",      "Go",     "PostgreSQL", u8"የክፍያ ማስታረቅ",
               u8"የማጭበርበር ትንተና", u8"የቡድን አመራር", "Docker", "Kubernetes"};
  cv.languages = {u8"አማርኛ (የአፍ መፍቻ)", u8"ትግርኛ (ጥሩ)", u8"እንግሊዝኛ (ቅልጥፍና)"};
  return cv;
}

// An Arabic CV: right-to-left paragraphs with Latin words and numbers inside.
inline CvData arabicCv() {
  CvData cv;
  cv.name = u8"أمينة الحسن";
  cv.title = u8"مهندسة برمجيات أولى – أنظمة الدفع";
  cv.email = "amina.alhassan@example.com";
  cv.phone = "+255 754 123 456";
  cv.summary =
      u8"مهندسة برمجيات لديها تسع سنوات من الخبرة في بناء أنظمة الدفع لأسواق شرق أفريقيا. أصمم "
      u8"خدمات "
      u8"موثوقة تطابق تحويلات المال عبر الهاتف والبطاقات والبنوك، وأحب تدريب الفرق. أجيد C++ "
      u8"وPython وGo.";
  cv.experience = {
      {u8"مهندسة خلفية رئيسية", u8"شركة تيغو بيسا للتكامل", u8"2021 – الآن",
       u8"قدت فريقا من ستة مهندسين لبناء بوابة دفع USSD وAPI يستخدمها 40 تاجرا.\n"
       u8"- صممت آلة حالات دفع تمنع تكرار الخصم تماما.\n"
       u8"- خفضت زمن التأكيد من 9 ثوان إلى 1.4 ثانية.\n"
       u8"- أدخلت اختبارات العقود مع بيئات المشغلين ونظام المناوبة."},
      {u8"مهندسة برمجيات أولى", u8"سلكوم للتقنية المالية", u8"2018 – 2021",
       u8"بنيت خدمة المطابقة التي تقارن كشوف المشغلين بقيود الدفتر كل ليلة، فاستعادت نحو 30 مليون "
       u8"شلن "
       u8"شهريا.\n- نقلت الدفتر من MySQL إلى PostgreSQL دون توقف.\n- كتبت واجهة تسجيل التجار "
       u8"ووثائقها."},
      {u8"مهندسة برمجيات", u8"فوداكوم تنزانيا", u8"2016 – 2018",
       u8"صنت أدوات الصرف ونظام إشعارات الرسائل القصيرة، وأضفت لوحات مراقبة قصرت زمن اكتشاف "
       u8"الأعطال من ساعات إلى دقائق."},
      {u8"مطورة مبتدئة", u8"حاضنة دار للأعمال", u8"2015 – 2016",
       u8"طورت مواقع وتطبيقات Android صغيرة للشركات المحلية."},
  };
  cv.education = {
      {u8"ماجستير علوم الحاسوب", u8"جامعة دار السلام", u8"2019 – 2021",
       u8"الأطروحة: كشف وكلاء الاحتيال بخصائص الرسوم البيانية. تخرجت بامتياز."},
      {u8"بكالوريوس هندسة الحاسوب", u8"جامعة دار السلام", u8"2011 – 2015",
       u8"مشروع التخرج: نقطة بيع تعمل دون اتصال للمتاجر الريفية."},
  };
  cv.skills = {"C++17",
               "Python",
               "Go",
               "PostgreSQL",
               u8"مطابقة المدفوعات",
               u8"تحليل الاحتيال",
               u8"قيادة الفرق",
               "Docker",
               "Kubernetes"};
  cv.languages = {u8"العربية (اللغة الأم)", u8"السواحيلية (بطلاقة)", u8"الإنجليزية (بطلاقة)"};
  return cv;
}

// The CV as the cv_data JSON of the product (for the ReportLab peer).
inline std::string toJson(const CvData& cv) {
  auto str = [](const std::string& v) {
    std::string o = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\')
        o += '\\', o += c;
      else if (c == '\n')
        o += "\\n";
      else
        o += c;
    }
    return o + "\"";
  };
  auto list = [&](const std::vector<std::string>& v) {
    std::string o = "[";
    for (std::size_t i = 0; i < v.size(); ++i) o += (i ? "," : "") + str(v[i]);
    return o + "]";
  };
  std::string o = "{\"name\":" + str(cv.name) + ",\"title\":" + str(cv.title) +
                  ",\"email\":" + str(cv.email) + ",\"phone\":" + str(cv.phone) +
                  ",\"summary\":" + str(cv.summary) + ",\"experience\":[";
  for (std::size_t i = 0; i < cv.experience.size(); ++i) {
    const auto& e = cv.experience[i];
    o += std::string(i ? "," : "") + "{\"position\":" + str(e.position) +
         ",\"company\":" + str(e.company) + ",\"duration\":" + str(e.duration) +
         ",\"description\":" + str(e.description) + "}";
  }
  o += "],\"education\":[";
  for (std::size_t i = 0; i < cv.education.size(); ++i) {
    const auto& e = cv.education[i];
    o += std::string(i ? "," : "") + "{\"degree\":" + str(e.degree) +
         ",\"school\":" + str(e.school) + ",\"duration\":" + str(e.duration) +
         ",\"description\":" + str(e.description) + "}";
  }
  return o + "],\"skills\":" + list(cv.skills) + ",\"languages\":" + list(cv.languages) + "}";
}

}  // namespace malipo::cvpdf::testing
